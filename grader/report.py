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


# --------------------------------------------------------------------------- schema

_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def validate(doc: dict) -> list[str]:
    """Problems with a results.json document against Gradescope's schema (grading.md §1.4)."""
    p = []
    num = (int, float)

    def typed(obj, key, types, where):
        if key in obj and not isinstance(obj[key], types) or isinstance(obj.get(key), bool):
            p.append(f"{where}.{key} has type {type(obj[key]).__name__}")

    if "score" not in doc and not all("score" in t for t in doc.get("tests", [])):
        p.append("score is required unless every test has one")
    for key in ("score", "execution_time"):
        typed(doc, key, num, "top")
    for key in ("output",):
        typed(doc, key, str, "top")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in doc and doc[key] not in _FORMATS:
            p.append(f"top.{key} = {doc[key]!r} is not a format")
    for key in ("visibility", "stdout_visibility"):
        if key in doc and doc[key] not in _VISIBILITIES:
            p.append(f"top.{key} = {doc[key]!r} is not a visibility")
    if "extra_data" in doc and not isinstance(doc["extra_data"], dict):
        p.append("top.extra_data must be an object")
    for i, t in enumerate(doc.get("tests", [])):
        w = f"tests[{i}]"
        for key in ("score", "max_score"):
            typed(t, key, num, w)
        for key in ("name", "number", "output"):
            typed(t, key, str, w)
        if t.get("status", "passed") not in ("passed", "failed"):
            p.append(f"{w}.status = {t['status']!r}")
        if t.get("visibility", "visible") not in _VISIBILITIES:
            p.append(f"{w}.visibility = {t['visibility']!r}")
        if "output_format" in t and t["output_format"] not in _FORMATS:
            p.append(f"{w}.output_format = {t['output_format']!r}")
        if not isinstance(t.get("tags", []), list):
            p.append(f"{w}.tags must be a list")
    for i, row in enumerate(doc.get("leaderboard", [])):
        if not isinstance(row.get("name"), str) or not isinstance(row.get("value"), (int, float, str)):
            p.append(f"leaderboard[{i}] needs a name and a value")
        if row.get("order", "desc") not in ("asc", "desc"):
            p.append(f"leaderboard[{i}].order = {row['order']!r}")
    return p
