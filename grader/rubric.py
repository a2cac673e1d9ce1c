"""Rubric: which test cases make which graded item, worth how many points (DESIGN.md §4).

One public file per assignment, `grader/rubrics/<assignment>.toml`, names the public and
performance items and the total of hidden points; the hidden items live in
`grader/private/rubrics/<assignment>.toml`, so the release reveals no hidden test name.

    assignment = "assignment1_basics"
    hidden_points = 12
    [defaults]            case_timeout_s, memory_mb, cpu_s
    [[item]]              number, id, title, points, tests = [fnmatch patterns over case ids],
                          all_or_nothing = false, case_timeout_s (optional)
    [[perf]]              number, id, title, points, module, case, metric (wall|cpu|peak_rss),
                          full_at, zero_at, floor, repeats, warmup = true,
                          leaderboard = false

`validate` is what `make check` runs: totals add up, every recorded case maps to exactly one
item, no item is empty, numbers are unique.
"""

import fnmatch
import hashlib
import pathlib
import tomllib
from dataclasses import dataclass, field

GRADER_DIR = pathlib.Path(__file__).resolve().parent


@dataclass
class Item:
    number: str
    id: str
    title: str
    points: float
    visibility: str                     # "public" or "hidden"
    tests: list[str] = field(default_factory=list)
    all_or_nothing: bool = False
    case_timeout_s: float | None = None


@dataclass
class PerfItem:
    number: str
    id: str
    title: str
    points: float
    visibility: str
    module: str
    case: str
    metric: str
    full_at: float
    zero_at: float
    floor: float = 0.0
    repeats: int = 3
    warmup: bool = True
    leaderboard: bool = False


@dataclass
class Rubric:
    assignment: str
    title: str
    hidden_points: float
    items: list[Item]
    perf: list[PerfItem]
    case_timeout_s: float = 60.0
    memory_mb: int = 6144
    cpu_s: int = 900
    digest: str = ""

    @property
    def has_hidden(self) -> bool:
        return any(i.visibility == "hidden" for i in [*self.items, *self.perf])

    def all_items(self) -> list:
        return sorted([*self.items, *self.perf], key=lambda i: [int(p) for p in i.number.split(".")])

    def total(self) -> float:
        return sum(i.points for i in self.all_items())

    def cases_of(self, item: Item, case_ids) -> list[str]:
        return [c for c in case_ids if any(fnmatch.fnmatchcase(c, pat) for pat in item.tests)]

    def timeout_for(self, item: Item) -> float:
        return item.case_timeout_s or self.case_timeout_s


def _items(raw: dict, visibility: str) -> tuple[list[Item], list[PerfItem]]:
    items = [Item(visibility=visibility, **entry) for entry in raw.get("item", [])]
    perf = [PerfItem(visibility=visibility, **entry) for entry in raw.get("perf", [])]
    return items, perf


def public_path(assignment: str) -> pathlib.Path:
    return GRADER_DIR / "rubrics" / f"{assignment}.toml"


def private_path(assignment: str) -> pathlib.Path:
    return GRADER_DIR / "private" / "rubrics" / f"{assignment}.toml"


def load(assignment: str, *, include_hidden: bool = True) -> Rubric:
    """The public rubric, plus the hidden items when grader/private is present and wanted."""
    pub_text = public_path(assignment).read_bytes()
    raw = tomllib.loads(pub_text.decode("utf-8"))
    defaults = raw.get("defaults", {})
    items, perf = _items(raw, "public")
    h = hashlib.sha256(pub_text)
    priv = private_path(assignment)
    if include_hidden and priv.is_file():
        priv_text = priv.read_bytes()
        h.update(priv_text)
        hidden_items, hidden_perf = _items(tomllib.loads(priv_text.decode("utf-8")), "hidden")
        items += hidden_items
        perf += hidden_perf
    return Rubric(assignment=raw["assignment"], title=raw.get("title", assignment),
                  hidden_points=float(raw.get("hidden_points", 0)), items=items, perf=perf,
                  case_timeout_s=float(defaults.get("case_timeout_s", 60)),
                  memory_mb=int(defaults.get("memory_mb", 6144)), cpu_s=int(defaults.get("cpu_s", 900)),
                  digest="sha256:" + h.hexdigest())


def validate(rubric: Rubric, case_ids: list[str], perf_cases: set[tuple[str, str]] | None = None) -> list[str]:
    """Problems with the rubric against the recorded cases; [] when it is sound."""
    problems = []
    numbers = [i.number for i in rubric.all_items()]
    ids = [i.id for i in rubric.all_items()]
    for seq, what in ((numbers, "number"), (ids, "id")):
        dups = sorted({x for x in seq if seq.count(x) > 1})
        if dups:
            problems.append(f"duplicate item {what}s: {dups}")
    hidden_total = sum(i.points for i in rubric.all_items() if i.visibility == "hidden")
    if rubric.has_hidden and abs(hidden_total - rubric.hidden_points) > 1e-9:
        problems.append(f"hidden items add up to {hidden_total:g} points but the public rubric "
                        f"announces hidden_points = {rubric.hidden_points:g}")
    owner: dict[str, str] = {}
    for item in rubric.items:
        if item.points <= 0:
            problems.append(f"item {item.number} has no points")
        cases = rubric.cases_of(item, case_ids)
        if not cases:
            problems.append(f"item {item.number} ({item.id}) matches no recorded test case")
        for c in cases:
            if c in owner:
                problems.append(f"case {c} belongs to both {owner[c]} and {item.number}")
            owner[c] = item.number
        if item.visibility == "public" and any(c.startswith("hidden/") for c in cases):
            problems.append(f"public item {item.number} includes hidden cases")
    for c in case_ids:
        if c not in owner:
            problems.append(f"case {c} is in no rubric item")
    for p in rubric.perf:
        if not p.full_at < p.zero_at:
            problems.append(f"perf item {p.number}: full_at must be below zero_at")
        if p.metric not in ("wall", "cpu", "peak_rss"):
            problems.append(f"perf item {p.number}: unknown metric {p.metric!r}")
        if perf_cases is not None and (p.module, p.case) not in perf_cases:
            problems.append(f"perf item {p.number}: no case {p.case!r} in {p.module}")
    return problems
