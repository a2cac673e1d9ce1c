"""Snapshot stores: the expected observations of every test case, recorded from the reference.

A store is a folder with one JSON file per test module (and one `.npz` beside it when the module
records arrays). Public stores live in `<assignment>/tests/_snapshots/` and ship to students;
hidden stores live in `grader/private/snapshots/<assignment>/` and never enter a sandbox.

    test_bpe.json  {"format": 1, "cases": {"test_bpe.py::test_x": {"merges": {entry}, ...}}}
    entry          {"kind": "json", "value": <encoded>, "atol", "rtol", "hint"}
                   {"kind": "array", "dtype", "shape", "key": "<npz key>", "atol", "rtol", "hint"}

Entries carry the tolerances the tests asked for when the reference was recorded; the grader
compares with these and nothing a worker sends. This module writes stores deterministically
(sorted keys, fixed npz member order) so `make check` can re-record and diff them.
"""

import io
import json
import pathlib
import zipfile

import numpy as np

FORMAT = 1


def module_stem(cid: str) -> str:
    """`hidden/test_bpe.py::test_x` -> `hidden__test_bpe`."""
    module = cid.split("::", 1)[0]
    return module.removesuffix(".py").replace("/", "__")


def _load_file(root: pathlib.Path, stem: str) -> dict:
    path = root / f"{stem}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown snapshot format {data.get('format')!r}")
    cases = data["cases"]
    npz_path = root / f"{stem}.npz"
    if npz_path.is_file():
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        for entries in cases.values():
            for entry in entries.values():
                if entry["kind"] == "array":
                    entry["array"] = arrays[entry.pop("key")]
    return cases


def load_store(root: pathlib.Path) -> dict[str, dict]:
    """All cases of a store: {case id: {observation name: entry}} (arrays loaded as numpy)."""
    cases: dict[str, dict] = {}
    root = pathlib.Path(root)
    if root.is_dir():
        for path in sorted(root.glob("*.json")):
            cases.update(_load_file(root, path.stem))
    return cases


def load_case(tests_dir: pathlib.Path, cid: str) -> dict | None:
    """One case from the public store next to a tests folder (the local mode of `check`)."""
    return _load_file(pathlib.Path(tests_dir) / "_snapshots", module_stem(cid)).get(cid)


def write_store(root: pathlib.Path, cases: dict[str, dict], *, keep_others: bool = False) -> list[pathlib.Path]:
    """Replace the store's files with `cases` (entries holding numpy arrays under "array").

    With `keep_others`, files of modules absent from `cases` stay (recording a few modules only)."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    by_stem: dict[str, dict] = {}
    for cid in sorted(cases):
        by_stem.setdefault(module_stem(cid), {})[cid] = cases[cid]
    for old in list(root.glob("*.json")) + list(root.glob("*.npz")):
        if old.stem not in by_stem and not keep_others:
            old.unlink()
    written = []
    for stem, stem_cases in by_stem.items():
        arrays: dict[str, np.ndarray] = {}
        out_cases = {}
        for cid, entries in stem_cases.items():
            out_entries = {}
            for name in sorted(entries):
                entry = dict(entries[name])
                if entry["kind"] == "array":
                    key = f"a{len(arrays)}"
                    arrays[key] = entry.pop("array")
                    entry["key"] = key
                out_entries[name] = {k: v for k, v in sorted(entry.items()) if v is not None}
            out_cases[cid] = out_entries
        path = root / f"{stem}.json"
        path.write_text(json.dumps({"format": FORMAT, "cases": out_cases}, indent=1, sort_keys=True,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        npz_path = root / f"{stem}.npz"
        if arrays:
            _write_npz(npz_path, arrays)
            written.append(npz_path)
        elif npz_path.exists():
            npz_path.unlink()
    return written


def _write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    # np.savez stamps nothing variable, but write members ourselves to fix order and timestamps.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.save(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)  # keeps 0-dim arrays 0-dim
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
