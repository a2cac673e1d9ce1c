"""Class report of a `grader batch` run: report.md and histogram.png (grading.md §1.6, §4).

For the instructor only (hidden item titles and case ids appear here). The report states how many
submissions were graded, the score distribution, grader errors listed apart from student failures,
rejected submissions, the full-marks rate and mean score of every rubric item, the pass rate of every
case, and the cases whose outcome differed between two runs of the same submission (flaky; found
with `grader batch --repeat 2` or more).

Left out: plots other than the score histogram, per-student feedback (that is results.json), and
any comparison across batches.
"""

import pathlib
import statistics

from grader import report


def _pct(doc: dict) -> float:
    top = doc["extra_data"]
    return 100.0 * top["score"] / top["max_score"] if top.get("max_score") else 0.0


def histogram(path: pathlib.Path, percents: list[float], title: str) -> None:
    """Scores (percent of the maximum) in ten bins, written as a PNG with matplotlib (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.hist(percents, bins=list(range(0, 101, 10)), color="#4c72b0", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (% of maximum)")
    ax.set_ylabel("submissions")
    ax.set_title(title)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    tmp.replace(path)


def _table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def write(out: pathlib.Path, assignment: str, entries: list[dict], *, repeat: int, counts: dict) -> None:
    """entries: one dict per submission with name, doc (the published results.json), cases
    ({case id: outcome} of this batch's first run, or None), flaky ({case id: [outcome per run]})
    and error (a grader error of this batch, or None). counts: graded/reused numbers of this run."""
    out = pathlib.Path(out)
    docs = [e["doc"] for e in entries]
    status = [d["extra_data"]["grading_status"] for d in docs]
    ok = [e for e, s in zip(entries, status) if s == "ok"]
    percents = [_pct(e["doc"]) for e in ok]
    lines = [f"# Class report: {assignment}", "",
             f"{len(entries)} submissions: {status.count('ok')} graded, {status.count('rejected')} rejected, "
             f"{status.count('grader_error')} grader errors. This run graded {counts['graded']} correctness "
             f"run(s) and {counts['perf']} performance run(s); {counts['reused']} submission(s) reused "
             f"from earlier runs. Runs per submission: {repeat}.", ""]
    if docs:
        ex = docs[0]["extra_data"]
        lines += [f"Sandbox: {ex.get('sandbox')}. Grader {ex.get('versions', {}).get('grader')}. "
                  f"Inputs digest {ex.get('inputs_digest')}.", ""]
    if percents:
        lines += [f"Score (% of maximum, graded submissions): mean {statistics.mean(percents):.1f}, "
                  f"median {statistics.median(percents):.1f}, min {min(percents):.1f}, "
                  f"max {max(percents):.1f}.", "", "![score histogram](histogram.png)", ""]
    histogram(out / "histogram.png", percents, f"{assignment}: {len(percents)} graded submissions")

    lines += ["## Grader errors (faults of the grader, not of the students)", ""]
    errors = [e for e in entries if e["error"]]
    lines += [f"- {e['name']}: {e['error']}" for e in errors] or ["None."]
    lines += ["", "## Rejected submissions", ""]
    lines += [f"- {e['name']}: " + "; ".join(_problems(e["doc"])) for e, s in zip(entries, status)
              if s == "rejected"] or ["None."]

    lines += ["", "## Rubric items", "", "Over graded submissions: share with full marks, mean points. Items not run in this mode "
              "(maximum 0) are left out.", ""]
    items: dict[str, dict] = {}
    for e in ok:
        for t in e["doc"]["tests"]:
            it = items.setdefault(t["number"], {"name": t["name"], "max": t["max_score"], "full": 0, "sum": 0.0})
            it["full"] += t["max_score"] > 0 and t["score"] == t["max_score"]
            it["sum"] += t["score"]
    rows = [[n, it["name"], f"{it['max']:g}", f"{100 * it['full'] / len(ok):.0f} %", f"{it['sum'] / len(ok):.2f}"]
            for n, it in sorted(items.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]) if it["max"]]
    lines += _table(["#", "item", "max", "full marks", "mean points"], rows) if rows else ["None graded."]

    lines += ["", "## Cases", "", "Pass rate of every case over the submissions graded in this batch.", ""]
    rates: dict[str, list[int]] = {}
    for e in entries:
        for cid, outcome in (e["cases"] or {}).items():
            r = rates.setdefault(cid, [0, 0])
            r[0] += outcome == "passed"
            r[1] += 1
    rows = [[f"`{cid}`", f"{p}/{n}", f"{100 * p / n:.0f} %"]
            for cid, (p, n) in sorted(rates.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0]))]
    lines += _table(["case", "passed", "rate"], rows) if rows else ["No case graded in this batch."]

    lines += ["", "## Flaky cases (outcome differs between runs of the same submission)", ""]
    flaky = [(e["name"], cid, outs) for e in entries for cid, outs in sorted(e["flaky"].items())]
    if repeat < 2:
        lines.append("Not checked: run with `--repeat 2` (or more) to grade each submission twice.")
    elif flaky:
        lines += _table(["submission", "case", "outcomes per run"],
                        [[n, f"`{c}`", ", ".join(o)] for n, c, o in flaky])
    else:
        lines.append("None: every case had the same outcome in every run.")
    report.write_atomic(out / "report.md", "\n".join(lines) + "\n")


def _problems(doc: dict) -> list[str]:
    text = doc.get("output", "")
    probs = [ln[2:] for ln in text.splitlines() if ln.startswith("- ")]
    return probs[:3] or ["no package"]
