"""Shared helpers of the benchmarks: timing, peak memory, machine description, result files.

Every benchmark prints a JSON object and, with `--save`, writes it to `benchmarks/results/<name>.json`. Left
out: statistics beyond the median, minimum and the list of raw times (the runs are few and long).
"""

import datetime
import json
import os
import pathlib
import platform
import resource
import statistics
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call, wall clock."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def repeat(fn, n: int, *, warmup: int = 0) -> dict:
    """Run fn() warmup + n times; return the median, min and raw wall times of the last n runs."""
    for _ in range(warmup):
        fn()
    times = [timed(fn)[0] for _ in range(n)]
    return {"median_s": statistics.median(times), "min_s": min(times),
            "times_s": [round(t, 4) for t in times]}


def peak_rss_mb() -> float:
    """Peak RSS of this process or of its largest finished child, in MB (Linux reports ru_maxrss in KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10
    return round(max(own, kids) * scale, 1)


def _version(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - a missing package is reported as None
        return None


def machine() -> dict:
    """What the figures were measured on (no host names or paths)."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": model or platform.processor(),
        "cores_available": (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                            else os.cpu_count()),
        "gpu": "none",
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in ("numpy", "regex", "tiktoken", "tokenizers")},
    }


def emit(name: str, data: dict, save: bool) -> dict:
    """Print the result as JSON; with save, also write benchmarks/results/<name>.json."""
    data = {"benchmark": name, **data, "machine": machine()}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    print(text)
    if save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    return data
