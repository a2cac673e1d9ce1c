"""Parity: the stubs students get and the reference must expose the same API, word for word.

For every module of `grader/private/reference/<assignment>/` (tests excluded), the stub module
of the same path must define the same public names (functions, classes, their public methods,
module constants), with the same signatures (argument names, kinds, defaults and annotations as
source text) and the same docstrings. `adapters.py` and the given files (`__init__.py`,
`config.py`, `generate.py`) must be identical. Read with `ast`, never
imported. Reported by `make check`; the stub is the student-facing contract, the reference must
not drift from it (style.md §7).
"""

import ast
import pathlib

from grader import pipeline

IDENTICAL = ("adapters.py", "__init__.py", "config.py", "generate.py")   # files the reference shares verbatim with the stubs
REPO = pipeline.REPO


def _sig(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = fn.args
    copy = ast.arguments(posonlyargs=args.posonlyargs, args=args.args, vararg=args.vararg,
                         kwonlyargs=args.kwonlyargs, kw_defaults=args.kw_defaults,
                         kwarg=args.kwarg, defaults=args.defaults)
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    return f"({ast.unparse(copy)}){ret}"


def _api(tree: ast.Module) -> dict[str, tuple]:
    api: dict[str, tuple] = {}
    if ast.get_docstring(tree):
        api["<module docstring>"] = ("doc", ast.get_docstring(tree))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            api[node.name] = ("def", _sig(node), ast.get_docstring(node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            api[node.name] = ("class", bases, ast.get_docstring(node))
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not sub.name.startswith("_") or sub.name in ("__init__", "__call__", "__iter__")):
                    api[f"{node.name}.{sub.name}"] = ("def", _sig(sub), ast.get_docstring(sub))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id.isupper() and not t.id.startswith("_"):
                    api[t.id] = ("const",)
    return api


def check(assignment: str) -> list[str]:
    """Differences between stubs and reference, phrased for a maintainer; [] when in parity."""
    ref_root = pipeline.paths(assignment)["reference"]
    stub_root = REPO / assignment
    problems = []
    for ref in sorted(ref_root.rglob("*.py")):
        rel = ref.relative_to(ref_root)
        if "tests" in rel.parts:
            continue
        stub = stub_root / rel
        if not stub.is_file():
            problems.append(f"{rel}: in the reference but not in the stubs")
            continue
        if rel.name in IDENTICAL:
            if ref.read_text(encoding="utf-8") != stub.read_text(encoding="utf-8"):
                problems.append(f"{rel}: the reference's copy differs from the students' copy (they must be identical)")
            continue
        ref_api = _api(ast.parse(ref.read_text(encoding="utf-8")))
        stub_api = _api(ast.parse(stub.read_text(encoding="utf-8")))
        for name in sorted(set(ref_api) | set(stub_api)):
            if name not in stub_api:
                problems.append(f"{rel}: {name} is in the reference but not in the stub")
            elif name not in ref_api:
                problems.append(f"{rel}: {name} is in the stub but not in the reference")
            elif ref_api[name] != stub_api[name]:
                what = "signature" if ref_api[name][:2] != stub_api[name][:2] else "docstring"
                problems.append(f"{rel}: {name}: {what} differs between stub and reference")
    for stub in sorted(stub_root.rglob("*.py")):
        rel = stub.relative_to(stub_root)
        if "tests" not in rel.parts and not (ref_root / rel).is_file():
            problems.append(f"{rel}: in the stubs but not in the reference")
    return problems
