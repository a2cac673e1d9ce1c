"""Report: a GradeResult as Gradescope's results.json, a terminal table and a gradebook CSV row.

Outputs are written by the grader only (grading.md §1.4–§1.6): one results.json entry per rubric
item; public and perf items `visible`, hidden items `after_due_date`; the top-level `output`
states the public subtotal and the hidden points pending, never "all tests passed". Hidden items
carry verdicts and error magnitudes only. Worker output goes to the instructor log, never into
results.json. Files are replaced atomically (write beside, then rename).
"""

import csv
import io
import json
import os
import pathlib

VISIBILITY = {"public": "visible", "hidden": "after_due_date"}


def _kind(item) -> str:
    if hasattr(item, "metric"):
        return "perf"
    return item.visibility


def results_json(result) -> dict:
    tests = []
    for r in result.items:
        kind = _kind(r.item)
        tags = [kind] + (["hidden"] if kind == "perf" and r.item.visibility == "hidden" else [])
        entry = {"number": r.item.number, "name": f"{r.item.title} [{kind}]",
                 "score": r.score, "max_score": r.max_score,
                 "status": "passed" if r.max_score > 0 and r.score == r.max_score else "failed",
                 "visibility": VISIBILITY[r.item.visibility], "tags": tags,
                 "output": r.output, "output_format": "text"}
        if r.extra:
            entry["extra_data"] = r.extra
        tests.append(entry)
    public = [r for r in result.items if r.item.visibility == "public"]
    hidden_max = sum(r.max_score for r in result.items if r.item.visibility == "hidden")
    summary = (f"Public items: {sum(r.score for r in public):g}/{sum(r.max_score for r in public):g}. "
               f"Hidden items ({hidden_max:g} points): results after the due date. "
               f"Sandbox: {result.sandbox_level}.")
    if result.problems:
        summary += "\nProblems with the submission:\n" + "\n".join(f"- {p}" for p in result.problems)
    extra = dict(result.extra)
    extra.update(grading_status=result.status, score=result.score, max_score=result.max_score)
    leaderboard = [{"name": r.item.title, "value": round(r.extra["ratio"], 3), "order": "asc"}
                   for r in result.items
                   if getattr(r.item, "leaderboard", False) and r.extra.get("ratio") is not None]
    out = {"score": result.score, "execution_time": int(round(result.execution_time)),
           "output": summary, "output_format": "text", "visibility": "visible",
           "stdout_visibility": "hidden", "tests": tests, "extra_data": extra}
    if leaderboard:
        out["leaderboard"] = leaderboard
    return out


def write_atomic(path: pathlib.Path, text: str) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_results(result, path: pathlib.Path) -> None:
    write_atomic(path, json.dumps(results_json(result), indent=1) + "\n")


def table(result, *, title: str | None = None) -> str:
    """The terminal table: item, outcome, points (rendered with rich, returned as text)."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title or f"{result.assignment}: {result.submission}")
    for col in ("#", "item", "kind", "result", "points"):
        t.add_column(col, justify="right" if col == "points" else "left")
    for r in result.items:
        t.add_row(r.item.number, r.item.title, _kind(r.item), _short(r),
                  f"{r.score:g}/{r.max_score:g}")
    t.add_row("", "total", "", result.status, f"{result.score:g}/{result.max_score:g}")
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None).print(t)
    return buf.getvalue()


def _short(r) -> str:
    first = r.output.splitlines()[0] if r.output else r.outcome
    return first[:60]


CSV_FIELDS = ["submission", "score", "max_score", "grading_status", "sandbox", "grader", "inputs_digest"]


def csv_rows(results) -> str:
    numbers = sorted({r.item.number for res in results for r in res.items},
                     key=lambda n: [int(x) for x in n.split(".")])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS + [f"item {n}" for n in numbers])
    for res in results:
        by_num = {r.item.number: r.score for r in res.items}
        w.writerow([res.submission, res.score, res.max_score, res.status, res.sandbox_level,
                    res.extra.get("versions", {}).get("grader"), res.extra.get("inputs_digest")]
                   + [by_num.get(n, "") for n in numbers])
    return buf.getvalue()
