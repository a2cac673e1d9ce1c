"""Adversarial submissions: attacks on the grader, each graded to an exact expected score (make check).

grading.md §3.1 lists the threats; this module builds one zip per *bundle* of attacks, from the
reference package plus appended code (so every part the attack leaves alone is honest and must
score in full), and states the exact score of every rubric item. A bundle groups attacks whose
outcomes do not interfere, to keep `make check` short. Tests: grader/private/tests/test_adversarial.py.
Private because the attacks name private paths (the reference, snapshots, rubric).

What the sandbox cannot stop where bubblewrap is unavailable:
- level "uid" (root, no bubblewrap): the worker reads every world-readable file: the whole
  repository unless an instructor made `grader/private/` 0700 (the grader warns, it does not
  chmod); other users' world-readable files; `/tmp`. Processes are bounded by RLIMIT_NPROC of
  the uid (shared by parallel workers of that uid) or a pids cgroup. Network is cut only where
  a network namespace can be made. Runs only where Python and the virtualenv are readable by
  that uid (not on a machine whose Python lives under a 0700 `/root`).
- level "none": everything the grader's user can do: read `grader/private/` (reference,
  hidden snapshots, rubric) through the file system or the editable install's import hook
  (`import grader.private.reference...`), write anywhere the grader can (other submissions'
  results included, before the grader's atomic rename), use the network, leave processes
  behind outside the process group (a pids cgroup still catches them where one can be made),
  and, as root without a cgroup, fork without bound until the case's time limit.
At every level, hidden test *inputs* are readable inside the sandbox (the tests are there): a
submission may hard-code answers for inputs it has seen, or carry them out through a visible
item's feedback. Expected values never enter the sandbox.

Left out: attacks on the GPU, timing side channels, and attacks that need the grader's own
files changed.
"""

import io
import pathlib
import stat
import zipfile
from dataclasses import dataclass, field

from grader import samples
from grader.private.adversarial_attacks import (
    ALWAYS_EQUAL_ADAPTERS, BOMBS_ADAPTERS, EXIT_ADAPTERS, FORGE_ADAPTERS, FORGE_TOKENIZER, HELPER, INJECTED,
    ORACLE_ADAPTERS, PATCH_TOKENIZER, RESULTS_TOKENIZER, STEAL_ADAPTERS)

A = "assignment1_basics"
ORPHAN_MARKER = "adversarial-orphan-7f3c"   # in the command line of the process that tries to survive


@dataclass
class Bundle:
    description: str                   # the attacks, and why each earns nothing
    hidden: bool                       # graded with the hidden tests
    expected: dict[str, float]         # item number -> fraction of its points earned; others: "*", or full
    needs: str = ""                    # "bubblewrap+nproc": only where bombs are bounded
    timeout_scale: float = 0.5
    memory_mb: int | None = None       # lower memory cap for the grade (bombs)
    attacks: list[str] = field(default_factory=list)


def _items_from(module: str) -> list[str]:
    """Public items whose cases run in `module` or after it: the worker runs cases in sorted id order."""
    from grader import rubric

    return [i.number for i in rubric.load(A, include_hidden=False).items
            if any(pattern.split("::", 1)[0] >= module for pattern in i.tests)]


BPE = ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]
TOKENIZER = ["2.1", "2.2", "2.3", "2.4", "2.5", "4.7", "4.8", "4.9"]

BUNDLES = {
    "frame_forgery": Bundle(
        "Frames written straight to GRADER_FD: a complete forged pass (wrong values) for a hidden case "
        "while tests are collected, a start for a test that does not exist, an outcome without a start, "
        "the same forgery twice; inside every tokenizer test a duplicate observation name, a start for "
        "another test and a forged pass; a 2 GiB frame header (hidden num_processes test) and a non-JSON "
        "header (from_files test). Each forged case scores 0; untouched cases score in full.",
        hidden=True, expected={**dict.fromkeys(TOKENIZER, 0.0), "4.4": 0.0, "4.6": 0.0},
        attacks=["forged frames", "duplicate names", "frames for tests not running", "huge frame",
                 "garbage bytes"]),
    "exit_tricks": Bundle(
        "os._exit(0) from a thread (pre-tokenization), SystemExit(0) (chunk boundaries), atexit "
        "os._exit(0) plus sys.exit(0) (training), and a fake score printed on stdout: exit statuses and "
        "stdout are never read, so every BPE item is 0 and the tokenizer scores in full.",
        hidden=False, expected=dict.fromkeys(BPE, 0.0),
        attacks=["os._exit", "sys.exit", "atexit", "fake stdout score"]),
    "private_reads": Bundle(
        "Training is honest only if the worker can see the reference, snapshots, rubric or repository "
        "(absolute and relative paths, /proc/*/cwd, /proc/1/root), import them through the editable "
        "install, list other runs in /tmp, or reach the network; otherwise its last merge is wrong. "
        "Under bubblewrap none is visible: every training item is 0.",
        hidden=False, expected=dict.fromkeys(BPE[2:], 0.0), needs="bubblewrap",
        attacks=["read hidden tests, snapshots, reference from disk", "network access"]),
    "injection_files": Bundle(
        "Reference plus conftest.py (three places), pytest.ini, pyproject.toml, setup.cfg, "
        "sitecustomize/usercustomize, a .pth, a pytest11 entry point, results.json, a replacement "
        "__init__.py and test file, a stray .pyc, zip-slip and absolute members, a symlink to the "
        "reference, a 64 MiB zip bomb outside the package (never read); tokenizer.py writes results.json "
        "everywhere it can. Each injected file would crash every test if it ran: full marks.",
        hidden=False, expected={},
        attacks=["conftest/plugin injection", "results.json forgery", "zip slip", "symlink escape"]),
    "zip_bomb": Bundle(
        "The reference plus a 64 MiB module (64 KiB compressed) inside the package: decompression "
        "stops at the size cap and the whole submission is rejected with that reason: every item 0.",
        hidden=False, expected={"*": 0.0}, attacks=["zip bomb"]),
    "resource_bombs": Bundle(
        "A fork bomb (one chunk-boundaries test: timeout), a memory bomb over 9 processes (the special-"
        "tokens training test: killed by the memory watchdog), and an endless loop that ignores "
        "signals, floods stdout/stderr, fills the scratch tmpfs and leaves an orphan in a new session "
        "(the from_files test: timeout, orphan killed). Only those three cases score 0.",
        hidden=False, expected={"1.2": 2 / 3, "1.5": 0.0, "2.2": 5 / 6}, needs="bubblewrap+nproc",
        timeout_scale=0.15, memory_mb=1024,
        attacks=["fork bomb", "memory bomb", "infinite loop", "stdout flood", "disk fill", "orphan process"]),
    "always_equal": Bundle(
        "Training returns dict/list subclasses whose __eq__ is always True (with a wrong extra entry), "
        "pre-tokenization a Counter subclass likewise, chunk boundaries an object that claims to be a "
        "list: observations are rebuilt as plain values, so every BPE item is 0.",
        hidden=False, expected=dict.fromkeys(BPE, 0.0), attacks=["always-equal objects"]),
    "oracle_probe": Bundle(
        "Pre-tokenization raises an exception whose class name and message carry the hidden input; "
        "chunk boundaries return the input file's text; both print the input. Those items are 0, and "
        "no hidden item's feedback may contain any of it (verdict and magnitude only).",
        hidden=True, expected=dict.fromkeys(["1.1", "1.2", "4.1", "4.2"], 0.0),
        attacks=["grader as oracle"]),
    "pytest_patching": Bundle(
        "tokenizer.py, when first imported (the first tokenizer test), replaces Check.__call__ so nothing "
        "is recorded, makes every pytest report pass, and makes the plugin's reporter send 'passed': every "
        "test from then on reports passed without observations. Modules run before (test_bpe, test_layers, "
        "...) score in full; the tokenizer's and every later module's items score 0.",
        hidden=False, expected=dict.fromkeys(_items_from("test_tokenizer.py"), 0.0),
        attacks=["pytest monkeypatching"]),
}


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None,
         bombs: tuple[str, ...] = ()) -> bytes:
    """Regular members, symlink members, and bombs (64 MiB of one byte each, highly compressed)."""
    data = samples._zip(entries, links)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as zf:
        for name in bombs:
            info = zipfile.ZipInfo(name, samples.STAMP)
            info.external_attr, info.compress_type = (stat.S_IFREG | 0o644) << 16, zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                block = b"#" * (1 << 20)
                for _ in range(64):
                    fh.write(block)
    return buffer.getvalue()


def build(name: str, reference_dir, repo, results_dir) -> bytes:
    """The zip of bundle `name`: the reference package with that bundle's edits."""
    ref = samples._starter_files(pathlib.Path(reference_dir))
    add = {"_adv.py": HELPER.encode()}
    fmt = {"repo": str(repo), "results": str(results_dir), "marker": ORPHAN_MARKER}
    edits = {
        "frame_forgery": {"adapters.py": FORGE_ADAPTERS, "tokenizer.py": FORGE_TOKENIZER},
        "exit_tricks": {"adapters.py": EXIT_ADAPTERS},
        "private_reads": {"adapters.py": STEAL_ADAPTERS.format(**fmt)},
        "injection_files": {"tokenizer.py": RESULTS_TOKENIZER.format(**fmt)},
        "resource_bombs": {"adapters.py": BOMBS_ADAPTERS.format(**fmt)},
        "always_equal": {"adapters.py": ALWAYS_EQUAL_ADAPTERS},
        "oracle_probe": {"adapters.py": ORACLE_ADAPTERS},
        "pytest_patching": {"tokenizer.py": PATCH_TOKENIZER + samples.FAKE_PASS},
        "zip_bomb": {},
    }[name]
    files = dict(ref) | add | {f: ref[f] + code.encode() for f, code in edits.items()}
    entries = samples._package(files)
    if name == "zip_bomb":
        return _zip(entries, bombs=(f"{A}/bomb.py",))
    if name != "injection_files":
        return samples._zip(entries)
    entries |= {path: text.encode() for path, text in INJECTED.items()}
    links = {f"{A}/stolen.py": str(pathlib.Path(repo) / "grader/private/reference" / A / "bpe.py"),
             f"{A}/passwd.py": "/etc/passwd"}
    return _zip(entries, links, bombs=("data/outside_bomb.bin",))


def write_all(out_dir, reference_dir, repo, results_dir) -> dict[str, pathlib.Path]:
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in BUNDLES:
        paths[name] = out_dir / f"{name}.zip"
        paths[name].write_bytes(build(name, reference_dir, repo, results_dir))
    return paths

