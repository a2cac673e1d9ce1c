"""Sandbox: the folder a worker sees, and the command that confines it (grading.md §3.2).

`build` lays out a fresh folder with the student's package files, the course's own package files
(`__init__.py`, `config.py`: COURSE_FILES)
and tests, the hidden tests, and a stripped copy of the recording plugin; never the reference, snapshots, rubric or
another submission. `spawn` starts a process inside it:

- level "bubblewrap": `bwrap --unshare-all` (own pid, net (loopback only), ipc, uts namespaces),
  read-only binds of the system, the Python installation and the virtualenv, the sandbox
  read-only, a private writable scratch folder as HOME and TMPDIR, a cleared environment;
- level "uid" (root, no bubblewrap): user `student` (else `nobody`) in a new network namespace
  with loopback only; reads whatever that uid may read, so `grader/private/` must be `0700`;
- level "none": a separate process with rlimits and a scrubbed environment only. The worker then
  shares the grader's user and could read `grader/private/`: fit for trusted code (the reference
  and mutants in `make check`), not for hostile submissions. Commands say so loudly.

At every level: rlimits, a cap on the summed resident memory and, where the machine allows, a
pids cgroup (grader/confine.py says which mechanism works where). Timeouts are enforced by the
caller; `kill` takes the process group, the cgroup (and so anything that left the group) and,
under bubblewrap, the pid namespace. Under bubblewrap the scratch folder is a size-capped tmpfs.
"""

import functools
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys

from grader import confine

GRADER_DIR = pathlib.Path(__file__).resolve().parent
REPO = GRADER_DIR.parent
INSIDE = "/sandbox"           # where the sandbox folder appears under bubblewrap
PLUGIN_FILES = ("plugin.py", "protocol.py", "perfrun.py")

WARNING_UID = ("WARNING: bubblewrap is not available: the worker runs as an unprivileged user with "
               "no network, but reads whatever that user may read. Make grader/private/ and the "
               "results folder root-only (chmod 700).")
WARNING_NONE = ("WARNING: bubblewrap is not available: the worker runs without a sandbox "
                "(rlimits only) and could read grader/private/. Fit for trusted code only. "
                "Install bubblewrap (apt-get install bubblewrap) to grade untrusted submissions.")


def detect_level() -> str:
    """"bubblewrap" when `bwrap` can start a namespace here, else "uid" (root whose unprivileged
    user can run the worker's Python in a new network namespace), else "none"."""
    if os.environ.get("GRADER_SANDBOX") in ("none", "uid"):
        return os.environ["GRADER_SANDBOX"]
    bwrap = shutil.which("bwrap")
    if bwrap:
        try:
            probe = subprocess.run([bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"],
                                   capture_output=True, timeout=20)
            if probe.returncode == 0:
                return "bubblewrap"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "uid" if all(confine.uid_ready()) else "none"


def warning(level: str) -> str | None:
    """The line to print before grading at `level` (None for bubblewrap)."""
    if level == "uid":
        exposed = confine.private_exposed(GRADER_DIR / "private")
        return WARNING_UID + (" grader/private/ IS readable by other users now." if exposed else "")
    return WARNING_NONE if level == "none" else None


# --------------------------------------------------------------------------- layout

def _copy_tree(src: pathlib.Path, dst: pathlib.Path, skip: tuple[str, ...] = ()) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in skip or part == "__pycache__" for part in rel.parts) or path.is_symlink():
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


COURSE_FILES = ("__init__.py", "config.py")   # given, course-owned package files: the course's copy is used


def build(dest: pathlib.Path, assignment: str, package_dir: pathlib.Path, *,
          hidden_dir: pathlib.Path | None = None) -> pathlib.Path:
    """Lay out `dest` for one run; returns `dest`. The course's own tests always win."""
    dest = pathlib.Path(dest)
    pkg = dest / assignment
    pkg.mkdir(parents=True)
    _copy_tree(pathlib.Path(package_dir), pkg, skip=("tests",))
    # The package's __init__.py is course material: the tests live inside the package, so
    # importing them runs it; a submission's copy must not be able to break every test at once.
    # The same holds for given code the tests build inputs with (e.g. a1's ModelConfig).
    for name in COURSE_FILES:
        if (REPO / assignment / name).is_file():
            shutil.copyfile(REPO / assignment / name, pkg / name)
    tests_src = REPO / assignment / "tests"
    _copy_tree(tests_src, pkg / "tests", skip=("_snapshots", "hidden"))
    if hidden_dir is not None and pathlib.Path(hidden_dir).is_dir():
        _copy_tree(pathlib.Path(hidden_dir), pkg / "tests" / "hidden")
        (pkg / "tests" / "hidden" / "__init__.py").touch()
    plug = dest / ".grader" / "grader"
    plug.mkdir(parents=True)
    (plug / "__init__.py").write_text('"""Recording side of the course grader (a copy)."""\n')
    for name in PLUGIN_FILES:
        shutil.copyfile(GRADER_DIR / name, plug / name)
    (dest / ".grader" / "pytest.ini").write_text(_pytest_ini())
    (dest / "scratch").mkdir()
    return dest


def _pytest_ini() -> str:
    """Our own pytest config: markers from pyproject, nothing a submission could inject."""
    import tomllib
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    markers = cfg["tool"]["pytest"]["ini_options"]["markers"]
    lines = ["[pytest]", "markers ="] + [f"    {m}" for m in markers]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- processes

class Limits:
    """Limits of a worker: rlimits (memory as an address-space cap per process, CPU-only runs),
    plus the summed resident memory of all its processes (`memory_mb` again), `nproc` tasks in
    all (pids cgroup, or RLIMIT_NPROC above the user's current count when not root; see
    grader/confine.py) and a `scratch_mb` tmpfs under bubblewrap."""

    def __init__(self, cpu_s: int = 600, memory_mb: int = 6144, nofile: int = 512,
                 fsize_mb: int = 256, nproc: int | None = 512, scratch_mb: int = 1024):
        self.cpu_s, self.memory_mb, self.nofile, self.fsize_mb = cpu_s, memory_mb, nofile, fsize_mb
        self.nproc, self.scratch_mb = nproc, scratch_mb

    def apply(self, nproc_rlimit: int | None = None) -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_s, self.cpu_s + 5))
        mem = self.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        fsize = self.fsize_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if nproc_rlimit is not None:   # spawn sets it where the kernel enforces it (not for root)
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc_rlimit, nproc_rlimit))


def _env(sandbox_path: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": f"{sandbox_path}/scratch",
        "TMPDIR": f"{sandbox_path}/scratch",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update(extra)
    return env


@functools.cache
def _bwrap_has_size() -> bool:
    """bubblewrap >= 0.7 can cap a tmpfs (`--size`); older ones get the host scratch folder."""
    try:
        help_text = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=20).stdout
        return "--size" in help_text
    except (OSError, subprocess.TimeoutExpired):
        return False


def _bwrap_prefix(sandbox: pathlib.Path, env: dict[str, str], scratch_mb: int) -> list[str]:
    venv = pathlib.Path(sys.prefix)
    base = pathlib.Path(sys.base_prefix)
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for name in ("lib", "lib64", "bin", "sbin"):
        p = pathlib.Path("/") / name
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    for extra in {base, venv}:
        if not str(extra).startswith("/usr"):
            cmd += ["--ro-bind", str(extra), str(extra)]
    cmd += ["--ro-bind", str(sandbox), INSIDE]
    if _bwrap_has_size():   # in memory and capped: a submission cannot fill the grader's disk
        cmd += ["--size", str(scratch_mb << 20), "--tmpfs", f"{INSIDE}/scratch"]
    else:
        cmd += ["--bind", str(sandbox / "scratch"), f"{INSIDE}/scratch"]
    cmd += ["--chdir", INSIDE]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


def spawn(sandbox: pathlib.Path, level: str, python_args: list[str], *, limits: Limits,
          env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = (),
          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) -> subprocess.Popen:
    """Start `python -I <python_args>` confined at `level`, in its own process group."""
    sandbox = pathlib.Path(sandbox).resolve()
    inside = INSIDE if level == "bubblewrap" else str(sandbox)
    full_env = _env(inside, {k: v.replace("{sandbox}", inside) for k, v in (env or {}).items()})
    argv = [sys.executable, "-I", "-B", *[a.replace("{sandbox}", inside) for a in python_args]]
    if level == "bubblewrap":
        argv = _bwrap_prefix(sandbox, full_env, limits.scratch_mb) + argv
        popen_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    else:
        popen_env = full_env
    uid, gid, dedicated = confine.unprivileged_ids() if level == "uid" else (None, None, False)
    group = confine.Group.create(limits.nproc) if limits.nproc and os.geteuid() == 0 else None
    nproc_rlimit = None
    if limits.nproc and group is None and (os.geteuid() != 0 or uid is not None):
        nproc_rlimit = confine.user_tasks(uid if uid is not None else os.geteuid()) + limits.nproc
    if uid is not None:
        confine.open_for(sandbox, uid, gid)
        confine.libc()   # loaded before fork: the child must not load libraries

    def preexec() -> None:   # in the child, between fork and exec, still as the grader's user
        limits.apply(nproc_rlimit)
        if group is not None:
            group.join()
        if uid is not None and not confine.enter_network_namespace():
            os._exit(71)

    ids = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}
    try:
        proc = subprocess.Popen(argv, cwd=sandbox, env=popen_env, stdin=stdin, stdout=stdout, stderr=stderr,
                                pass_fds=pass_fds, start_new_session=True, preexec_fn=preexec, **ids)
    except BaseException:
        if group is not None:
            group.remove()
        raise
    proc.grader_group, proc.grader_uid = group, uid if dedicated else None
    proc.grader_watchdog = confine.Watchdog(proc, group, limits.memory_mb << 20)
    proc.grader_watchdog.start()
    return proc


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group, the pids cgroup (anything that left the group) and, at level
    "uid" with a dedicated `student` user, every process of that user. Under bubblewrap the pid
    namespace dies with its first process."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    group = getattr(proc, "grader_group", None)
    if group is not None:
        group.remove()
    if getattr(proc, "grader_uid", None) is not None:
        confine.kill_uid(proc.grader_uid)
