"""Performance items: submission and reference timed back to back, from outside, in one run.

Each performance case runs in its own sandboxed process (grader/perfrun.py inside): it prepares
its inputs untimed and says "ready"; the grader then sends "go" `repeats` times, after one
warm-up unless the rubric says `warmup = false`, and reads a digest of the output each time. Measured here, never reported by the
worker (grading.md §1.6):

- wall: seconds between writing "go" and the output frame's arrival (min over repeats);
- cpu: user + system seconds of the worker's process tree from /proc, same window (min);
- peak_rss: after the warm-up the grader resets the kernel's high-water mark
  (/proc/PID/clear_refs, "5") and reads VmRSS as the baseline; the metric is VmHWM − baseline
  after the measured runs, in MiB, floored at the rubric's `floor` so tiny baselines do not make
  ratios noisy.

The output must match the reference's from the same run ("fast but wrong" scores 0). The score
is linear in ratio = submission / reference between `full_at` (full marks) and `zero_at` (0).
"""

import os
import pathlib
import select
import subprocess
import time
from dataclasses import dataclass, field

from grader import confine, protocol, sandbox

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class PerfRun:
    ok: bool
    note: str = ""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    digest: str | None = None

    def metric(self, name: str, floor: float = 0.0) -> float:
        value = {"wall": lambda: min(self.wall), "cpu": lambda: min(self.cpu),
                 "peak_rss": lambda: self.peak_rss_mb}[name]()
        return max(value, floor)


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _python_pid(root: int) -> int:
    """The worker's Python process: the largest resident process of the tree."""
    return max(confine.tree(root), key=lambda p: _status_kb(p, "VmRSS"))


def measure(sandbox_dir, level: str, module: str, case: str, *, repeats: int, metric: str,
            limits: sandbox.Limits, warmup: bool = True, ready_timeout: float = 120.0,
            run_timeout: float = 120.0) -> PerfRun:
    """Run one case in a fresh sandboxed process and measure it (see the module docstring)."""
    read_fd, write_fd = os.pipe()
    args = ["-c", "import sys; sys.path[:0] = ['{sandbox}/.grader', '{sandbox}']; "
                  "from grader import perfrun; sys.exit(perfrun.main(sys.argv[1:]))",
            module, case, "{sandbox}/scratch/perf"]
    try:
        proc = sandbox.spawn(sandbox_dir, level, args, limits=limits, env={"GRADER_FD": str(write_fd)},
                             pass_fds=(write_fd,), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    finally:
        os.close(write_fd)
    reader = protocol.FrameReader(max_total=1 << 20)

    def next_frame(timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            data = os.read(read_fd, 1 << 16)
            if not data:
                return None
            frames = reader.feed(data)
            if frames:
                return frames[0][0]

    result = PerfRun(ok=False)
    try:
        frame = next_frame(ready_timeout)
        if not frame or frame.get("t") != "ready":
            result.note = "the case did not get ready (import or input preparation failed)"
            return result
        pid = _python_pid(proc.pid)
        first = 1 if warmup else 0
        for i in range(first + repeats):
            if i == first:  # after the warm-up (if any): reset the peak, take the baseline
                try:
                    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    pass
                baseline_kb = _status_kb(pid, "VmRSS")
            pids = confine.tree(proc.pid)
            cpu0, t0 = _cpu_seconds(pids), time.perf_counter()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            frame = next_frame(run_timeout)
            t1, cpu1 = time.perf_counter(), _cpu_seconds(confine.tree(proc.pid))
            if frame is None or frame.get("t") != "out":
                result.note = f"no output within {run_timeout:.0f} s (or the process died)"
                return result
            if "error" in frame:
                result.note = f"the case raised {str(frame['error'])[:300]}"
                return result
            if result.digest is not None and frame.get("digest") != result.digest:
                result.note = "the output changed between repetitions"
                return result
            result.digest = frame.get("digest")
            if i >= first:
                result.wall.append(t1 - t0)
                result.cpu.append(cpu1 - cpu0)
        result.peak_rss_mb = max(0, _status_kb(pid, "VmHWM") - baseline_kb) / 1024
        result.ok = True
        return result
    except (OSError, protocol.ProtocolError) as exc:
        result.note = f"the case failed: {exc}"
        return result
    finally:
        sandbox.kill(proc)
        proc.wait()
        os.close(read_fd)


def score(sub: PerfRun, ref: PerfRun, *, metric: str, full_at: float, zero_at: float, floor: float,
          points: float) -> tuple[float, str, float | None]:
    """(points earned, message, ratio)."""
    if not ref.ok:
        return 0.0, f"grader error: the reference failed this case ({ref.note})", None
    if not sub.ok:
        return 0.0, f"Not scored: {sub.note}.", None
    if sub.digest != ref.digest:
        return 0.0, "Output differs from the reference's output in the same run (fast but wrong).", None
    ratio = sub.metric(metric, floor) / ref.metric(metric, floor)
    frac = 1.0 if ratio <= full_at else 0.0 if ratio >= zero_at else (zero_at - ratio) / (zero_at - full_at)
    earned = round(points * frac, 4)
    return earned, (f"Ratio {ratio:.2f} of the reference's {metric} (full marks at <= {full_at:g}, "
                    f"zero at >= {zero_at:g}). Output matched the reference."), ratio
