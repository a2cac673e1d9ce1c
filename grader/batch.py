"""`grader batch`: grade a folder of submissions, N at a time, resumable (grading.md §1.6, §4, §5).

    grader batch SUBMISSIONS -a ASSIGNMENT -o OUT [-j N] [--repeat R] [--force] [--no-perf] [--no-hidden]

Every entry of SUBMISSIONS (a zip file or a folder; names starting with "." are skipped) is one
submission, named after the entry. Two phases:
1. correctness: each submission graded with perf items off (R times with `--repeat R`), N at a time;
2. performance: the perf items of each submission, one at a time, after all correctness work.

Resumable: each finished unit of work (one correctness run; the perf items of one submission) is
written atomically to OUT/state/<key>/ as soon as it ends, where key = sha256 of (submission digest,
inputs digest, rubric digest, grader version, mode). A rerun after a crash or `kill -9` grades only
what has no state file; changed tests, snapshots or rubric change the key and regrade; `--force`
regrades everything. Identical submissions share a key and are graded once. Runs that ended in a
grader error are kept apart and retried by the next run.

Outputs: OUT/results/<name>/results.json (+ worker.log); when a new key replaces a result the old
file stays as results.previous.json; a grader error never replaces a good result (it is written as
results.grader_error.json and reported apart). OUT/gradebook.csv, OUT/report.md, OUT/histogram.png
(grader.classreport). Exit status 1 when any grader error remains, 2 for bad usage.

Left out: merging runs made on a GPU host, late policy and rate limits, similarity checks.
"""

import concurrent.futures
import fcntl
import hashlib
import json
import pathlib
import shutil
import sys
import time
import traceback
from types import SimpleNamespace

import grader
from grader import classreport, judge, pipeline, report, rubric as rubric_mod, sandbox, submission


# --------------------------------------------------------------------------- state files

def dump(res: pipeline.GradeResult) -> dict:
    """A GradeResult as JSON (instructor-side state: keeps verdicts and the worker log)."""
    items = [{"number": r.item.number, "score": r.score, "max_score": r.max_score, "outcome": r.outcome,
              "output": r.output, "extra": r.extra,
              "verdicts": [[v.cid, v.outcome, v.message, v.brief] for v in r.verdicts]} for r in res.items]
    return {"assignment": res.assignment, "submission": res.submission, "status": res.status,
            "problems": res.problems, "sandbox_level": res.sandbox_level,
            "execution_time": res.execution_time, "extra": res.extra, "log": res.log, "items": items}


def load(doc: dict, rub: rubric_mod.Rubric) -> pipeline.GradeResult:
    by_number = {i.number: i for i in rub.all_items()}
    items = [pipeline.ItemResult(by_number[d["number"]], d["score"], d["max_score"], d["outcome"],
                                 [judge.Verdict(*v) for v in d["verdicts"]], d["output"], d["extra"])
             for d in doc["items"]]
    return pipeline.GradeResult(doc["assignment"], doc["submission"], items, doc["status"], doc["problems"],
                                doc["sandbox_level"], doc["execution_time"], doc["extra"], doc["log"])


def _read(path: pathlib.Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _save(path: pathlib.Path, doc: dict) -> None:
    report.write_atomic(path, json.dumps(doc) + "\n")


# --------------------------------------------------------------------------- one unit of work

def discover(folder: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    return [(p.stem if p.is_file() else p.name, p) for p in sorted(pathlib.Path(folder).iterdir())
            if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".zip")]


def submission_key(path: pathlib.Path, assignment: str, scratch: pathlib.Path, base: list) -> str:
    """sha256 of (accepted files' digest, or the raw bytes when no package is found) + base."""
    shutil.rmtree(scratch, ignore_errors=True)
    unpacked = submission.unpack(path, assignment, scratch)
    digest = unpacked.digest
    if unpacked.package_dir is None:   # nothing accepted: tell apart by the raw bytes
        digest = "raw:" + (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else digest)
    shutil.rmtree(scratch, ignore_errors=True)
    return hashlib.sha256(json.dumps([digest, *base], sort_keys=True).encode()).hexdigest()


def _error(name: str, assignment: str, items: list, level: str, exc: BaseException) -> pipeline.GradeResult:
    text = f"Grader error: {type(exc).__name__}: {exc}"
    rows = [pipeline.ItemResult(i, 0.0, i.points, "grader_error", output=text) for i in items]
    return pipeline.GradeResult(assignment, name, rows, "grader_error", [text], level, 0.0, {},
                                traceback.format_exc()[-4000:])


def _in_work(work: pathlib.Path, fn):
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        return fn(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade_run(cfg: SimpleNamespace, name: str, path: pathlib.Path, work: pathlib.Path) -> pipeline.GradeResult:
    """One correctness run (perf off); never raises: a fault of the grader becomes grader_error."""
    try:
        res = _in_work(work, lambda w: pipeline.grade(
            path, cfg.assignment, level=cfg.level, include_hidden=cfg.hidden, run_perf=False,
            work_dir=w, timeout_scale=cfg.timeout_scale))
        if res.status != "grader_error" and (res.extra["rubric"], res.extra["inputs_digest"]) != cfg.digests:
            raise RuntimeError("the rubric, tests or snapshots changed during the batch: run it again")
        return res
    except Exception as exc:  # noqa: BLE001 - the batch always finishes
        return _error(name, cfg.assignment, cfg.rubric.all_items(), cfg.level, exc)


def perf_run(cfg: SimpleNamespace, name: str, path: pathlib.Path, work: pathlib.Path) -> dict:
    t0 = time.monotonic()
    try:
        items = _in_work(work, lambda w: pipeline.grade_perf(path, cfg.assignment, level=cfg.level,
                                                             include_hidden=cfg.hidden, work_dir=w))
    except Exception as exc:  # noqa: BLE001
        items = _error(name, cfg.assignment, cfg.rubric.perf, cfg.level, exc).items
    res = pipeline.GradeResult(cfg.assignment, name, items, "ok", [], cfg.level, 0.0, {})
    return {"seconds": time.monotonic() - t0, "items": dump(res)["items"]}


# --------------------------------------------------------------------------- assembling results

def assemble(cfg, name: str, runs: list, perf: dict | None) -> tuple[pipeline.GradeResult, dict]:
    """The published result (first run, perf merged) and the flaky cases {case id: outcomes}."""
    bad = next((r for r in runs if r["status"] == "grader_error"), None)
    res = load(bad or runs[0], cfg.rubric)
    res.submission = name
    if bad is None and perf is not None:
        loaded = load({**runs[0], "items": perf["items"]}, cfg.rubric).items
        numbers = {r.item.number for r in loaded}
        res.items = sorted([r for r in res.items if r.item.number not in numbers] + loaded,
                           key=lambda r: [int(x) for x in r.item.number.split(".")])
        res.execution_time += perf["seconds"]
        if any(r.outcome == "grader_error" for r in loaded):
            res.status = "grader_error"
    outcomes: dict[str, list[str]] = {}
    for run in runs:
        for item in run["items"]:
            for cid, outcome, *_ in item["verdicts"]:
                outcomes.setdefault(cid, []).append(outcome)
    flaky = {cid: outs for cid, outs in outcomes.items() if len(set(outs)) > 1}
    return res, flaky


def publish(folder: pathlib.Path, res: pipeline.GradeResult, key: str) -> dict:
    """Write results.json unless that would replace a good result by a grader error; returns the
    document now standing as the submission's result."""
    res.extra["batch_key"] = key
    doc = report.results_json(res)
    path, old = folder / "results.json", _read(folder / "results.json")
    old_status = old and old.get("extra_data", {}).get("grading_status")
    if res.status == "grader_error" and old_status in ("ok", "rejected"):
        report.write_atomic(folder / "results.grader_error.json", json.dumps(doc, indent=1) + "\n")
        return old
    if old and old.get("extra_data", {}).get("batch_key") != key:
        report.write_atomic(folder / "results.previous.json", json.dumps(old, indent=1) + "\n")
    report.write_atomic(path, json.dumps(doc, indent=1) + "\n")
    report.write_atomic(folder / "worker.log", res.log)
    if res.status != "grader_error":
        (folder / "results.grader_error.json").unlink(missing_ok=True)
    return doc


def _row(name: str, doc: dict):
    """A published results.json as the object report.csv_rows expects (same gradebook columns)."""
    ex = doc["extra_data"]
    items = [SimpleNamespace(item=SimpleNamespace(number=t["number"]), score=t["score"]) for t in doc["tests"]]
    return SimpleNamespace(submission=name, score=ex["score"], max_score=ex["max_score"],
                           status=ex["grading_status"], sandbox_level=ex.get("sandbox"), extra=ex, items=items)


# --------------------------------------------------------------------------- the batch

def run_batch(folder, assignment: str, out, *, jobs: int = 2, repeat: int = 1, force: bool = False,
              perf: bool = True, hidden: bool = True, level: str | None = None,
              timeout_scale: float = 1.0, say=print, progress=None) -> dict:
    """Grade every submission of `folder` into `out`; returns counts and the grader errors."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".batch.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another grader batch is writing to {out}") from None
    rub = rubric_mod.load(assignment, include_hidden=hidden)
    cfg = SimpleNamespace(assignment=assignment, level=level or sandbox.detect_level(), hidden=hidden,
                          timeout_scale=timeout_scale, rubric=rub)
    cfg.digests = (rub.digest, pipeline.inputs_digest(assignment))
    base = [cfg.digests[1], rub.digest, grader.__version__,
            {"hidden": hidden, "timeout_scale": timeout_scale, "sandbox": cfg.level}]
    shutil.rmtree(out / "work", ignore_errors=True)   # scratch of a run that was killed
    subs = [(name, path, submission_key(path, assignment, out / "work" / "key", base))
            for name, path in discover(folder)]
    state = out / "state"

    def good(p: pathlib.Path) -> bool:
        doc = _read(p)
        return doc is not None and doc.get("status") != "grader_error" and not force

    keys = {key: (name, path) for name, path, key in reversed(subs)}   # first name per key
    todo = [(key, i) for key in sorted(keys, key=lambda k: keys[k][0]) for i in range(repeat) if not good(state / key / f"run-{i}.json")]
    counts = {"graded": 0, "perf": 0, "reused": sum(all(k != key for k, _ in todo) for key in keys)}
    say(f"[batch] {len(subs)} submissions ({len(keys)} distinct), {len(todo)} correctness run(s) to do, "
        f"-j {jobs}, sandbox {cfg.level}")
    bar = progress.add_task("correctness", total=len(todo)) if progress else None
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_run, cfg, keys[key][0], keys[key][1], out / "work" / f"{key[:16]}-{i}"):
                   (key, i) for key, i in todo}
        for fut in concurrent.futures.as_completed(futures):
            key, i = futures[fut]
            res = fut.result()
            _save(state / key / f"run-{i}.json", dump(res))   # the unit is done once this file exists
            counts["graded"] += 1
            say(f"[batch] {keys[key][0]} run {i + 1}: {res.score:g}/{res.max_score:g} {res.status}")
            if progress:
                progress.advance(bar)
            runs = [_read(state / key / f"run-{j}.json") for j in range(repeat)]
            if all(runs) and not (perf and runs[0]["status"] == "ok" and rub.perf):
                _publish_all(cfg, out, subs, key, runs, None)

    # Phase 2: performance items one at a time, after all correctness work.
    perf_todo = []
    if perf and rub.perf:
        for key in sorted(keys, key=lambda k: keys[k][0]):
            runs = [_read(state / key / f"run-{j}.json") for j in range(repeat)]
            if all(r and r["status"] == "ok" for r in runs) and not good(state / key / "perf.json"):
                perf_todo.append(key)
    bar = progress.add_task("performance", total=len(perf_todo)) if progress and perf_todo else None
    for key in perf_todo:
        doc = perf_run(cfg, keys[key][0], keys[key][1], out / "work" / f"{key[:16]}-perf")
        doc["status"] = "grader_error" if any(d["outcome"] == "grader_error" for d in doc["items"]) else "ok"
        _save(state / key / "perf.json", doc)
        counts["perf"] += 1
        say(f"[batch] {keys[key][0]} performance: {sum(d['score'] for d in doc['items']):g} points")
        if progress:
            progress.advance(bar)

    entries = []
    for name, path, key in subs:
        runs = [_read(state / key / f"run-{j}.json") for j in range(repeat)]
        pdoc = _read(state / key / "perf.json") if perf and runs[0] and runs[0]["status"] == "ok" else None
        entries.append(_publish_all(cfg, out, [(name, path, key)], key, runs, pdoc, want_perf=perf)[0])
    report.write_atomic(out / "gradebook.csv", report.csv_rows([_row(e["name"], e["doc"]) for e in entries]))
    classreport.write(out, assignment, entries, repeat=repeat, counts=counts)
    errors = [e for e in entries if e["error"]]
    say(f"[batch] done: {counts['graded']} correctness run(s), {counts['perf']} perf run(s), "
        f"{counts['reused']} reused; {len(errors)} grader error(s). Gradebook: {out / 'gradebook.csv'}")
    shutil.rmtree(out / "work", ignore_errors=True)
    lock.close()
    return {**counts, "errors": [e["name"] for e in errors], "entries": entries}


def _publish_all(cfg, out, subs, key, runs, pdoc, want_perf=False) -> list[dict]:
    """Publish the result of every submission name that has this key."""
    res, flaky = assemble(cfg, "", runs, pdoc)
    missing_perf = want_perf and res.status == "ok" and cfg.rubric.perf and pdoc is None
    error = res.problems[0] if res.status == "grader_error" else ("performance items not run" if missing_perf
                                                                   else None)
    cases = {v.cid: v.outcome for r in res.items for v in r.verdicts} if res.status != "grader_error" else None
    entries = []
    for name, _, k in subs:
        if k == key:
            res.submission = name
            doc = publish(out / "results" / name, res, key)
            entries.append({"name": name, "doc": doc, "cases": cases, "flaky": flaky, "error": error})
    return entries


# --------------------------------------------------------------------------- command line

def cmd_batch(args) -> int:
    level = args.sandbox or sandbox.detect_level()
    if level == "none" and not args.allow_unsandboxed:
        print(sandbox.WARNING_NONE + "\ngrader batch refuses to grade without a sandbox; pass "
              "--allow-unsandboxed for trusted code only (grading.md §5).", file=sys.stderr)
        return 2
    if not pathlib.Path(args.submissions).is_dir() or args.repeat < 1 or args.jobs < 1:
        print("grader batch: SUBMISSIONS must be a folder; -j and --repeat at least 1", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        summary = run_batch(args.submissions, args.assignment, args.out, jobs=args.jobs, repeat=args.repeat,
                            force=args.force, perf=not args.no_perf, hidden=not args.no_hidden, level=level,
                            timeout_scale=args.timeout_scale, progress=progress,
                            say=lambda s: progress.console.print(s, markup=False, highlight=False, soft_wrap=True))
    return 1 if summary["errors"] else 0


def register(subparsers) -> None:
    from grader import cli

    p = subparsers.add_parser("batch", help="grade a folder of submissions in parallel (resumable)")
    p.add_argument("submissions", help="folder with one zip file or folder per submission")
    p.add_argument("-a", "--assignment", default="assignment1_basics", choices=cli.ASSIGNMENTS)
    p.add_argument("-o", "--out", default="out/batch")
    p.add_argument("-j", "--jobs", type=int, default=2, help="correctness runs in parallel")
    p.add_argument("--repeat", type=int, default=1, help="grade each submission R times; report flaky cases")
    p.add_argument("--force", action="store_true", help="regrade everything, ignoring saved state")
    p.add_argument("--no-perf", action="store_true", help="skip performance items")
    p.add_argument("--no-hidden", action="store_true", help="public items only")
    p.add_argument("--sandbox", choices=("bubblewrap", "none"), default=None)
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade at the rlimits-only level when bubblewrap is missing (trusted code only)")
    p.add_argument("--timeout-scale", type=float, default=1.0, help="scale the rubric's per-case time limits")
    p.set_defaults(fn=cmd_batch)
