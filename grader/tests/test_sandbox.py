"""Maintainer tests: what a worker can and cannot reach (grader/sandbox.py, grading.md §3.2).

The bubblewrap tests need `bwrap` on the machine (CI installs it); where it is missing they
are skipped with that reason, and the grader itself warns at every run.
"""

import json
import pathlib
import subprocess
import time

import pytest

from grader import sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]
PRIVATE_FILE = REPO / "grader" / "rubric.py"     # any grader file outside the sandbox will do

PROBE = f"""
import json, os, socket
out = {{}}
def attempt(name, fn):
    try:
        fn(); out[name] = True
    except Exception as exc:
        out[name] = False
attempt("read_grader", lambda: open({str(PRIVATE_FILE)!r}).read())
attempt("list_repo", lambda: os.listdir({str(REPO)!r}).index("grader"))
attempt("write_sandbox", lambda: open("{{}}/x".format(os.path.dirname(os.path.abspath("adapters.py"))), "w"))
attempt("write_scratch", lambda: open(os.environ["TMPDIR"] + "/x", "w").write("ok"))
attempt("internet", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
def loopback():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
    c = socket.create_connection(s.getsockname(), timeout=2); c.close()
attempt("loopback", loopback)
out["pid"] = os.getpid()
out["env"] = sorted(os.environ)
print(json.dumps(out))
"""


def _probe(tmp_path, level):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "adapters.py").write_text("")
    box = sandbox.build(tmp_path / "box", "assignment1_basics", pkg)
    proc = sandbox.spawn(box, level, ["-c", PROBE], limits=sandbox.Limits(), env={"GRADER_MODE": "worker"})
    out, _ = proc.communicate(timeout=60)
    return json.loads(out.decode().strip().splitlines()[-1])


needs_bwrap = pytest.mark.skipif(sandbox.detect_level() != "bubblewrap", reason="bubblewrap not available here")


@needs_bwrap
def test_sandbox_bubblewrap_confines_the_worker(tmp_path):
    r = _probe(tmp_path, "bubblewrap")
    assert r["read_grader"] is False and r["list_repo"] is False, "the repository must not be visible"
    assert r["write_sandbox"] is False, "the sandbox (package and tests) must be read-only"
    assert r["write_scratch"] is True, "HOME/TMPDIR scratch must be writable"
    assert r["internet"] is False, "no network"
    assert r["loopback"] is True, "loopback stays up (gloo tests need it)"
    assert r["pid"] < 10, "own pid namespace"


def test_sandbox_environment_is_allow_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t")
    r = _probe(tmp_path, "none")
    assert "SECRET_TOKEN" not in r["env"]
    assert set(r["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
                             "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                             "GRADER_MODE", "LC_CTYPE"}


def test_sandbox_layout_has_no_private_files(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "adapters.py").write_text("")
    hidden = REPO / "grader" / "private" / "hidden" / "assignment1_basics"   # absent in the student release
    box = sandbox.build(tmp_path / "box", "assignment1_basics", pkg, hidden_dir=hidden)
    names = {p.name for p in box.rglob("*")}
    assert "_snapshots" not in names and "reference" not in names and "rubrics" not in names
    assert not any(p.suffix in (".json", ".npz", ".toml") for p in box.rglob("*") if "fixtures" not in p.parts)
    assert (box / "assignment1_basics" / "tests" / "hidden" / "__init__.py").exists() == hidden.is_dir()


def test_sandbox_kill_takes_the_process_group(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    box = sandbox.build(tmp_path / "box", "assignment1_basics", pkg)
    code = "import subprocess, time; subprocess.Popen(['sleep', '300']); print('up', flush=True); time.sleep(300)"
    proc = sandbox.spawn(box, "none", ["-c", code], limits=sandbox.Limits())
    assert proc.stdout.readline().strip() == b"up"
    sandbox.kill(proc)
    proc.wait(timeout=10)
    for _ in range(50):   # the grandchild is reaped by init shortly after the kill
        left = subprocess.run(["pgrep", "-g", str(proc.pid), "-r", "R,S,D,T"], capture_output=True,
                              text=True).stdout.split()
        if not left:
            break
        time.sleep(0.1)
    assert left == [], f"processes survived the kill: {left}"
