"""Record snapshots: run the course tests against the reference and store what they observe.

`grader snapshots <assignment>` builds a sandbox from `grader/private/reference/<assignment>`,
collects every public and hidden case, runs them in record mode (observations plus the
tolerances and hints the tests wrote) and writes the public store into the assignment's
`tests/_snapshots/` and the hidden store into `grader/private/snapshots/<assignment>/`.
The reference must pass every case and every case must record at least one observation;
anything else is an error, never a snapshot. `--check` records into a temporary folder and
reports any difference from the committed stores instead of writing (used by `make check`).
`--only GLOB` records (or checks) just the test modules whose file name matches, e.g. "test_layers*":
the stores of the other modules are left as they are.
"""

import filecmp
import fnmatch
import pathlib
import tempfile

from grader import pipeline, protocol, sandbox, snapshots, worker


def record(assignment: str, *, level: str | None = None, check_only: bool = False,
           only: str | None = None) -> list[str]:
    """Record (or with check_only, compare) the stores. Returns a list of problems."""
    level = level or "none"   # the reference is trusted; bubblewrap is not needed to record it
    p = pipeline.paths(assignment)
    with tempfile.TemporaryDirectory(prefix="record-") as tmp:
        tmp = pathlib.Path(tmp)
        box = sandbox.build(tmp / "sandbox", assignment, p["reference"],
                            hidden_dir=p["hidden_tests"] if p["hidden_tests"].is_dir() else None)
        cfg = worker.WorkerConfig(assignment=assignment, level=level, mode="record")
        case_ids, _ = worker.collect(box, cfg)
        if only:
            case_ids = [c for c in case_ids
                        if fnmatch.fnmatchcase(pathlib.PurePosixPath(c.split("::", 1)[0]).name, only)]
            if not case_ids:
                return [f"--only {only!r} matches no collected test module"]
        reports, log = worker.run_cases(box, case_ids, {c: 300.0 for c in case_ids}, cfg)
        problems, public, hidden = [], {}, {}
        for cid in case_ids:
            rep = reports[cid]
            outcome = (rep.outcome or {}).get("outcome")
            if rep.status != "done" or outcome != "passed":
                msg = (rep.outcome or {}).get("message") or rep.note
                problems.append(f"{cid}: the reference did not pass ({rep.status}/{outcome}): {msg}")
                continue
            if not rep.observations:
                problems.append(f"{cid}: records no observation; every graded test must call check()")
                continue
            entries = {}
            for name, (header, payload) in rep.observations.items():
                entry = {"kind": header["kind"], "atol": header.get("atol"), "rtol": header.get("rtol"),
                         "hint": header.get("hint")}
                if header["kind"] == "array":
                    entry["array"] = protocol.npy_to_array(payload)
                    entry["dtype"], entry["shape"] = header["dtype"], header["shape"]
                else:
                    entry["value"] = header["value"]
                entries[name] = entry
            (hidden if cid.startswith("hidden/") else public)[cid] = entries
        if problems:
            return problems + ["--- worker log (tail) ---", log[-4000:]]
        if not check_only:
            snapshots.write_store(p["public_snapshots"], public, keep_others=bool(only))
            snapshots.write_store(p["hidden_snapshots"], hidden, keep_others=bool(only))
            return []
        snapshots.write_store(tmp / "public", public)
        snapshots.write_store(tmp / "hidden", hidden)
        for new, old in ((tmp / "public", p["public_snapshots"]), (tmp / "hidden", p["hidden_snapshots"])):
            cmp = filecmp.dircmp(new, old) if old.is_dir() else None
            if cmp is None:
                problems.append(f"{old} does not exist: run `grader snapshots {assignment}`")
                continue
            for name in cmp.left_only + (cmp.right_only if not only else []) + cmp.diff_files:
                problems.append(f"snapshot {old.name}/{name} is out of date: run `grader snapshots {assignment}`")
            for name in cmp.common_files:
                if not filecmp.cmp(new / name, old / name, shallow=False):
                    problems.append(f"snapshot {old.name}/{name} is out of date")
        return sorted(set(problems))
