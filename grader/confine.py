"""Confinement helpers for grader/sandbox.py: process count, memory, kill-all, and the uid fallback.

grading.md §3.1 "Resource exhaustion" and §3.2 levels 1 and 2. What each mechanism covers:

- Process count. `RLIMIT_NPROC` is never enforced for root (the kernel exempts uid 0, and a user
  namespace mapped to root outside does not change that: measured with bubblewrap 0.8,
  `--unshare-user --uid 65534`, 200 forks under a limit of 50 all succeed). So when the grader
  is root and the cgroup filesystem is writable, every worker gets its own pids cgroup
  (`pids.max`, cgroup v1 `pids` hierarchy, or v2 where the parent already delegates `pids`),
  which also lists every process to kill at the end, including ones that left the process
  group. When the grader is not root, `RLIMIT_NPROC` is set to the user's current task count
  plus the limit. Root with neither: no bound but the time limit (`process_limit()` is None).
- Memory. `RLIMIT_AS` caps each process (sandbox.Limits); `Watchdog` adds a cap on the summed
  proportional resident memory (PSS) of all the worker's processes, polled twice a second, so a forking memory
  bomb is killed as a whole.
- Level 2 (`uid`): root without bubblewrap. The worker runs as user `student` (or `nobody`) in a
  new network namespace with only loopback up. It works only where the Python installation and
  virtualenv are readable by that uid (`uid_ready()` checks by starting Python as that uid), and
  protects `grader/private/` only where an instructor made it `0700` (`private_exposed()`); the
  grader does not chmod the repository itself.

Left out: cgroup memory limits (the watchdog suffices for CPU-only runs) and seccomp filters.
"""

import ctypes
import fcntl
import functools
import itertools
import os
import pathlib
import pwd
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

CGROUP_FS = pathlib.Path("/sys/fs/cgroup")
_COUNTER = itertools.count()
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


# --------------------------------------------------------------------------- pids cgroup

def _pids_base() -> pathlib.Path | None:
    """The writable cgroup folder under which this process may create pids-limited children."""
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            base = CGROUP_FS / "pids" / path.lstrip("/")
            return base if os.access(base, os.W_OK) else None
    for line in lines:   # pure cgroup v2: only where the parent already delegates `pids`
        if line.startswith("0::"):
            base = CGROUP_FS / line[3:].lstrip("/")
            try:
                delegated = "pids" in (base / "cgroup.subtree_control").read_text().split()
            except OSError:
                return None
            return base if delegated and os.access(base, os.W_OK) else None
    return None


class Group:
    """One pids cgroup holding a worker and everything it starts."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self._procs = str(path / "cgroup.procs").encode()

    @classmethod
    def create(cls, max_pids: int) -> "Group | None":
        base = _pids_base()
        if base is None:
            return None
        _sweep(base)
        path = base / f"grader-{os.getpid()}-{next(_COUNTER)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            try:
                path.rmdir()
            except OSError:
                pass
            return None
        return cls(path)

    def join(self) -> None:
        """Move the calling process in (runs in the child between fork and exec)."""
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for _ in range(200):   # a forking process may add members while we kill
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _sweep(base: pathlib.Path) -> None:
    """Remove empty cgroups left by grader processes that are gone (killed before cleaning up)."""
    for path in base.glob("grader-*-*"):
        owner = path.name.split("-")[1]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            try:
                path.rmdir()
            except OSError:
                pass


def process_limit() -> str | None:
    """Which mechanism bounds a worker's process count here: "cgroup", "rlimit" or None."""
    if os.geteuid() != 0:
        return "rlimit"
    return "cgroup" if _pids_base() is not None else None


def user_tasks(uid: int) -> int:
    """Tasks (threads included, as RLIMIT_NPROC counts them) owned by `uid` right now."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = os.stat(f"/proc/{entry}")
                if st.st_uid == uid:
                    total += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return total


# --------------------------------------------------------------------------- memory

def tree(root: int) -> list[int]:
    """Host pids of `root` and its descendants (works across bubblewrap's pid namespace)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_bytes(pids: list[int]) -> int:
    """Summed proportional set size (shared pages split between their users, so a fork of a
    large process is not counted twice); resident size where smaps_rollup is missing."""
    page, total = os.sysconf("SC_PAGE_SIZE"), 0
    for pid in pids:
        try:
            for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) << 10
                    break
        except FileNotFoundError:
            try:
                total += int(pathlib.Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            except (OSError, ValueError, IndexError):
                continue
        except (OSError, ValueError, IndexError):
            continue
    return total


class Watchdog(threading.Thread):
    """Kills a worker whose processes together hold more than `limit` bytes resident."""

    def __init__(self, proc: subprocess.Popen, group: Group | None, limit: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.proc, self.group, self.limit, self.interval = proc, group, limit, interval
        self.fired = False

    def run(self) -> None:
        try:
            self._watch()
        finally:   # the worker is gone: nothing it started may outlive it
            if self.group is not None:
                self.group.remove()

    def _watch(self) -> None:
        while self.proc.poll() is None:
            pids = self.group.pids() if self.group is not None else tree(self.proc.pid)
            if rss_bytes(pids) > self.limit:
                self.fired = True
                if self.group is not None:
                    self.group.kill_all()
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                return
            time.sleep(self.interval)


# --------------------------------------------------------------------------- level 2: another uid

def unprivileged_ids() -> tuple[int, int, bool]:
    """(uid, gid, dedicated): user `student` when it exists, else `nobody` (65534)."""
    for name, dedicated in (("student", True), ("nobody", False)):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid, dedicated
        except KeyError:
            continue
    return 65534, 65534, False


@functools.cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def enter_network_namespace() -> bool:
    """unshare(CLONE_NEWNET) and bring loopback up; call as root, in the child before exec."""
    if libc().unshare(CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


def _netns_preexec() -> None:
    if not enter_network_namespace():
        os._exit(71)


def uid_ready() -> tuple[bool, bool]:
    """(the worker's Python starts as the unprivileged uid, a network namespace can be made)."""
    if os.geteuid() != 0:
        return False, False
    uid, gid, _ = unprivileged_ids()
    libc()
    probe = [sys.executable, "-I", "-c", "import sys, numpy, pytest; print(sys.version)"]
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=60, cwd="/",
                             user=uid, group=gid, extra_groups=[])
        net = subprocess.run(["true"], timeout=20, preexec_fn=_netns_preexec).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False, False
    return out.returncode == 0 and out.stdout.strip() == sys.version, net


def open_for(sandbox: pathlib.Path, uid: int, gid: int) -> None:
    """Let `uid` reach the sandbox (traverse only on its parent) and own its scratch folder."""
    for path in (sandbox.parent, sandbox):
        mode = path.stat().st_mode
        if not mode & 0o001:
            path.chmod((mode & 0o7777) | 0o001)
    for path in [sandbox / "scratch", *(sandbox / "scratch").rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def private_exposed(private: pathlib.Path) -> bool:
    """Whether other users can enter `grader/private/` (level 2 then does not protect it)."""
    try:
        return bool(private.stat().st_mode & 0o005)
    except OSError:
        return False


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (level 2 with a dedicated `student` user only)."""
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid == uid:
                        os.kill(int(entry), signal.SIGKILL)
                        found = True
                except OSError:
                    continue
        if not found:
            return
        time.sleep(0.01)
