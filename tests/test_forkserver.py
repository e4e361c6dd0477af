"""Kernels forked from a fork server get the sandbox a bubblewrap kernel gets.

autograder/sandbox/forkserver/server.py forks each grading kernel from a server that has
already imported ipykernel and the preload, instead of starting Python in a
new bubblewrap each time. Here, really started (bubblewrap, as root): a
forked kernel sees the same world as a bubblewrap kernel (files, user,
processes, network, limits, privileges, environment); two forked kernels
cannot see or reach each other; a forked kernel draws its own random numbers;
its death is told like any other's; a server that cannot be had leaves
kernels to start as usual; a worker keeps its server between notebooks
but not the kernels that are done; and a kernel's start imports no module
worth preloading that the server has not imported already.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_bwrap
from traitlets.config import Config

from autograder.core.processes import descendants
from autograder.sandbox.forkserver import registry
from autograder.sandbox.manager import SandboxKernelManager
from autograder.sandbox.visible import python_paths

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = ["numpy", "autograder.checks"]

# What a student could learn about the kernel's world, as JSON.
LOOK = r'''
import json, os, resource, socket, sys, random
import numpy as np
def status(field):
    return [l.split()[1] for l in open("/proc/self/status") if l.startswith(field + ":")][0]
def listing(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError as error:
        return str(error)
def writable(path):
    try:
        with open(path, "a"):
            return True
    except OSError:
        return False
def descriptors():
    """What kinds of things the open descriptors are (how many varies with timing)."""
    kinds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            kinds.add(os.readlink(f"/proc/self/fd/{fd}").split("[")[0])
        except OSError:
            pass
    return sorted(k for k in kinds if not k.startswith("/proc/"))
def reach(address):
    try:
        socket.create_connection(address, timeout=1).close()
        return "connected"
    except OSError as error:
        return type(error).__name__
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    loopback = server.getsockname()[0]
mounts = sorted({line.split()[4] for line in open("/proc/self/mountinfo")})
print("LOOK " + json.dumps({
    "uid": os.getuid(), "root": os.getuid() == 0, "pid": os.getpid(), "ppid": os.getppid(),
    "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
    "hostname": socket.gethostname(), "cwd": os.getcwd(), "home": listing(os.path.expanduser("~")),
    "tmp": listing("/tmp"), "shm": listing("/dev/shm"),
    "user": open("/etc/passwd").read().split(":")[0],
    "course": listing(COURSE), "source": listing(COURSE + "/source"),
    "writable_python": writable(np.__file__), "writable_data": writable("points.csv"),
    "env": sorted(os.environ), "path": sys.path, "flags": str(sys.flags),
    "limits": [resource.getrlimit(getattr(resource, "RLIMIT_" + n))
               for n in ("AS", "CPU", "NPROC", "FSIZE", "NOFILE")],
    "no_new_privs": status("NoNewPrivs"), "capabilities": status("CapEff"),
    "descriptors": descriptors(), "loopback": loopback,
    "outside": reach(("10.255.255.1", 80)), "mounts": mounts,
    "random": [random.random(), float(np.random.rand())],
}))
'''


def _manager(fork: bool) -> SandboxKernelManager:
    config = Config()
    config.SandboxKernelManager.mode = "bwrap"
    config.SandboxKernelManager.fork_server = fork
    config.SandboxKernelManager.mpl_font_list = False
    config.CourseDirectory.root = str(ROOT)  # as in grading: never shown to a kernel
    manager = SandboxKernelManager(config=config)
    manager.preload_modules = list(PRELOAD)
    return manager


async def _start(fork: bool, cwd: Path,
                 preload: list[str] = PRELOAD) -> tuple[SandboxKernelManager, object]:
    manager = _manager(fork)
    manager.preload_modules = list(preload)
    await manager.start_kernel(cwd=str(cwd), extra_arguments=[
        "--HistoryManager.hist_file=:memory:"])
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


async def _run(client, code: str) -> str:
    said: list[str] = []

    def hook(message: dict) -> None:
        if message["msg_type"] == "stream":
            said.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            said.append("ERROR " + message["content"]["ename"] + ": "
                        + message["content"]["evalue"])

    await client.execute_interactive(code, timeout=60, output_hook=hook)
    return "".join(said)


async def _stop(manager, client) -> None:
    client.stop_channels()
    await manager.shutdown_kernel(now=True)


async def _look(client) -> dict:
    said = await _run(client, f"COURSE = {str(ROOT)!r}\n" + LOOK)
    assert "LOOK " in said, said
    return json.loads(said.split("LOOK ", 1)[1])


def _forked(manager) -> bool:
    from autograder.sandbox.forkserver.client import ForkedProcess

    return isinstance(manager.provisioner.process, ForkedProcess)


@pytest.fixture
def data(tmp_path):
    """An assignment's folder: its notebook's kernel gets the data file beside it."""
    folder = tmp_path / "assignment"
    folder.mkdir()
    (folder / "points.csv").write_text("x,y\n1,2\n")
    (folder / "notebook.ipynb").write_text("{}")
    return folder


@pytest.fixture
def as_root():
    require_bwrap()
    if os.geteuid() != 0:
        pytest.skip("the fork server is used only where the grader is root")
    yield
    registry.stop_fork_server()
    registry.UNAVAILABLE.clear()


def test_a_forked_kernel_sees_the_world_a_bubblewrap_kernel_sees(as_root, data):
    async def main() -> tuple[dict, dict, bool]:
        manager, client = await _start(fork=False, cwd=data)
        plain = await _look(client)
        await _stop(manager, client)
        manager, client = await _start(fork=True, cwd=data)
        forked, was_forked = await _look(client), _forked(manager)
        await _stop(manager, client)
        return plain, forked, was_forked

    plain, forked, was_forked = asyncio.run(main())
    assert was_forked
    # Each kernel has a user of its own, and its own random numbers.
    for key in ("uid", "random"):
        assert plain.pop(key) != forked.pop(key)
    # /tmp holds the kernel's own socket folder (a random name), and whatever
    # the Python environment binds there (a checkout below /tmp): the same.
    plain_tmp, forked_tmp = set(plain.pop("tmp")), set(forked.pop("tmp"))
    for look, own in ((plain, plain_tmp - forked_tmp), (forked, forked_tmp - plain_tmp)):
        (name,) = own
        look["mounts"] = [mount.replace(name, "K") for mount in look["mounts"]]
    assert plain_tmp & forked_tmp == {p.parts[2] for p in python_paths([ROOT])
                                      if p.parts[1] == "tmp"}
    assert forked == plain
    assert forked["root"] is False and forked["processes"] == ["1", "2"]
    assert (forked["pid"], forked["ppid"]) == (2, 1)
    assert forked["no_new_privs"] == "1" and int(forked["capabilities"], 16) == 0
    assert "source" not in forked["course"] and forked["source"].startswith("[Errno 2]")
    assert "points.csv" in forked["home"]
    assert not forked["writable_python"] and not forked["writable_data"]
    assert forked["loopback"] == "127.0.0.1" and forked["outside"] != "connected"
    assert forked["descriptors"] == plain["descriptors"]


def test_two_forked_kernels_cannot_see_or_reach_each_other(as_root, data):
    plant = r'''
import os, socket
open("/tmp/mine", "w").write("a"); open(os.path.expanduser("~/mine"), "w").write("a")
open("/dev/shm/mine", "w").write("a")
listener = socket.socket(socket.AF_UNIX); listener.bind("\0miniflow-neighbour"); listener.listen()
print("PID", os.getpid())
'''
    probe = r'''
import os, socket
places = ("/tmp/mine", os.path.expanduser("~/mine"), "/dev/shm/mine")
seen = [p for p in places if os.path.exists(p)]
try:
    socket.socket(socket.AF_UNIX).connect("\0miniflow-neighbour"); reached = True
except OSError:
    reached = False
others = [p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", "2")]
print("SEEN", seen, reached, others)
'''

    async def main() -> tuple[str, str, list[int], list[int]]:
        first, first_client = await _start(fork=True, cwd=data)
        second, second_client = await _start(fork=True, cwd=data)
        planted = await _run(first_client, plant)
        seen = await _run(second_client, probe)
        trees = [[first.provisioner.process.pid, *descendants(first.provisioner.process.pid)],
                 [second.provisioner.process.pid,
                  *descendants(second.provisioner.process.pid)]]
        for manager, client in ((first, first_client), (second, second_client)):
            await _stop(manager, client)
        return planted, seen, trees[0], trees[1]

    planted, seen, first_tree, second_tree = asyncio.run(main())
    assert "PID 2" in planted
    assert "SEEN [] False []" in seen
    assert not set(first_tree) & set(second_tree)


def test_a_forked_kernel_s_death_is_told_like_any_other(as_root, data):
    async def main() -> list[str]:
        reasons = []
        for code in ("import os; os._exit(3)", "import os, signal; os.kill(os.getpid(), 9)"):
            manager, client = await _start(fork=True, cwd=data)
            assert _forked(manager)
            client.execute(code)
            give_up = time.monotonic() + 20
            while await manager.is_alive() and time.monotonic() < give_up:
                await asyncio.sleep(0.05)
            reasons.append(manager.death_reason())
            await _stop(manager, client)
        return reasons

    exited, killed = asyncio.run(main())
    assert "exited with status 3" in exited
    assert "SIGKILL" in killed


def test_the_server_cannot_be_had_so_kernels_start_as_usual(as_root, data, monkeypatch, caplog):
    def broken(*args, **kwargs):
        from autograder.sandbox.forkserver.client import ForkServerError

        raise ForkServerError("the fork server did not start (a test broke it)")

    monkeypatch.setattr("autograder.sandbox.forkserver.client.ForkServer.__init__", broken)

    async def main() -> tuple[bool, str, bool]:
        manager, client = await _start(fork=True, cwd=data)
        said = await _run(client, "print(6 * 7)")
        forked = _forked(manager)
        await _stop(manager, client)
        manager, client = await _start(fork=True, cwd=data)  # the failure is remembered: no retry
        await _stop(manager, client)
        return forked, said, bool(registry.SERVERS)

    forked, said, servers = asyncio.run(main())
    assert not forked and said.strip() == "42" and not servers
    warnings = [r.getMessage() for r in caplog.records if "fork server" in r.getMessage()]
    assert len(warnings) == 1 and "a test broke it" in warnings[0]


def test_a_server_with_other_settings_waits_for_its_kernels_before_it_stops(as_root, data):
    async def main() -> tuple[str, bool, bool, int]:
        old, old_client = await _start(fork=True, cwd=data)
        first_server = next(iter(registry.SERVERS.values()))
        other, other_client = await _start(fork=True, cwd=data, preload=["numpy"])
        both = first_server.alive() and len(registry.SERVERS) == 2
        said = await _run(old_client, "print(open('points.csv').read().split()[1])")
        await _stop(old, old_client)
        await _stop(other, other_client)
        third, third_client = await _start(fork=True, cwd=data, preload=["numpy"])
        alive = first_server.alive()  # idle, and not what kernels are started with now
        await _stop(third, third_client)
        return said, both, alive, len(registry.SERVERS)

    said, both, alive, servers = asyncio.run(main())
    assert both and said.strip() == "1,2"
    assert not alive and servers == 1


def test_a_worker_keeps_its_server_and_its_spare_but_not_finished_kernels(as_root, data):
    from autograder.run.processes import kill_leftovers

    async def main() -> tuple[set[int], int, int]:
        done, done_client = await _start(fork=True, cwd=data)
        spare, spare_client = await _start(fork=True, cwd=data)
        done_client.stop_channels()
        done_pid = done.provisioner.process.pid
        servers = registry.fork_server_pids()
        kill_leftovers(keep=spare.provisioner.process.pid)
        alive_after = registry.fork_server_pids()
        assert await spare.is_alive()
        said = await _run(spare_client, "print('still here')")
        assert "still here" in said
        await _stop(spare, spare_client)
        await done.shutdown_kernel(now=True)
        return servers - alive_after, done_pid, len(servers)

    lost, done_pid, count = asyncio.run(main())
    assert not lost and count == 3  # its bubblewrap, bubblewrap's init, the server
    with pytest.raises(ProcessLookupError):
        os.kill(done_pid, 0)


def test_stopping_the_server_stops_its_kernels_and_removes_its_folder(as_root, data):
    async def main() -> tuple[int, Path, SandboxKernelManager]:
        manager, client = await _start(fork=True, cwd=data)
        pid = manager.provisioner.process.pid
        server = next(iter(registry.SERVERS.values()))
        client.stop_channels()
        registry.stop_fork_server()
        return pid, server.folder, manager

    pid, folder, manager = asyncio.run(main())
    give_up = time.monotonic() + 5
    while time.monotonic() < give_up:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("a forked kernel outlived its server")
    assert not folder.exists()
    # The kernel's manager, told its kernel is gone, removes its own folder.
    scratch = manager.scratch
    asyncio.run(manager.shutdown_kernel(now=True))
    assert not scratch.exists()


def test_a_machine_that_refuses_a_step_is_found_before_any_notebook(as_root, data, monkeypatch,
                                                                   caplog):
    # A bind the kernel's sandbox cannot make (its target is in a read-only
    # system folder), as a hardened machine might refuse a mount.
    plan = SandboxKernelManager.plan_fork

    def refused(self, kernel_cmd, cwd):
        found = plan(self, kernel_cmd, cwd)
        if found is not None:
            found["binds"].append((str(data / "points.csv"), "/usr/miniflow-refused/x", True))
        return found

    monkeypatch.setattr(SandboxKernelManager, "plan_fork", refused)

    async def main() -> tuple[bool, str]:
        manager, client = await _start(fork=True, cwd=data)
        said = await _run(client, "print(6 * 7)")
        forked = _forked(manager)
        await _stop(manager, client)
        return forked, said

    forked, said = asyncio.run(main())
    assert not forked and said.strip() == "42"  # started in bubblewrap instead
    warnings = [r.getMessage() for r in caplog.records if "fork server" in r.getMessage()]
    assert len(warnings) == 1 and "a trial fork failed" in warnings[0]
    assert "/usr/miniflow-refused" in warnings[0] and not registry.SERVERS


# A kernel's own start, in a process that has imported what a fork server does.
KERNEL_STARTS = r'''
import os, sys
from autograder.sandbox.forkserver import server as forkserver
import ipykernel_launcher
from ipykernel import kernelapp
forkserver.import_all(forkserver.KERNEL_START + forkserver.NUMPY_START)
before = set(sys.modules)
app = kernelapp.IPKernelApp.instance()
app.initialize(["--transport=ipc", f"--ip={sys.argv[1]}/kernel",
                f"--IPKernelApp.connection_file={sys.argv[1]}/kernel.json",
                "--HistoryManager.enabled=False"])
os.write(1, f"\nIMPORTED {sorted(set(sys.modules) - before)}\n".encode())  # not sys.stdout
os._exit(0)
'''


def _worth_preloading(module: str) -> bool:
    """Whether a module a kernel's start imported is one the fork server must have
    imported first: any of a library's or the course's (debugpy, IPython, numpy,
    autograder...) and any new top-level module of the standard library (sqlite3).

    A submodule of a standard library package is not (its package, if new, is): such
    helpers (``importlib.readers``, which ``importlib.resources.files`` imports
    on its first use) cost about a millisecond together, and which of them a
    kernel's start meets depends on what the libraries of the machine happen
    to have called first.
    """
    top, _, rest = module.partition(".")
    return top not in sys.stdlib_module_names or not rest


def test_worth_preloading_is_about_libraries_and_new_stdlib_modules():
    assert _worth_preloading("debugpy") and _worth_preloading("IPython.core.debugger")
    assert _worth_preloading("autograder.kernel.guard") and _worth_preloading("numpy.testing")
    assert _worth_preloading("sqlite3") and _worth_preloading("faulthandler")
    assert not _worth_preloading("importlib.readers")
    assert not _worth_preloading("importlib.resources._itertools")


def test_a_kernel_s_start_imports_nothing_the_fork_server_has_not(tmp_path):
    """Every module a kernel imports as it starts costs each forked kernel its import
    (debugpy alone is 40 ms): the server imports them all before it forks."""
    run = subprocess.run([sys.executable, "-c", KERNEL_STARTS, str(tmp_path)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    line = run.stdout.splitlines()[-1]  # after the kernel's own notes
    assert line.startswith("IMPORTED "), run.stdout[-2000:]
    imported = ast.literal_eval(line.removeprefix("IMPORTED "))
    missing = [module for module in imported if _worth_preloading(module)]
    assert missing == [], (f"a kernel's start imported {missing}: add them to "
                           "autograder.sandbox.forkserver.server.KERNEL_START")
