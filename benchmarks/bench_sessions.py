"""How much can one kernel's new sessions slow another kernel? With and without demotion.

Without a cgroup per kernel the scheduler shares the CPU between sessions
(autogroups). A hostile kernel starts ``--busy`` processes, each in a session
of its own; an honest kernel beside it times a fixed loop. The script runs
the honest loop alone, then beside the hostile kernel with the watchdog's
demotion of new sessions on, then off, in one run on one machine, and prints
each time and its ratio to the time alone.

    python benchmarks/bench_sessions.py [--busy 24] [--mode bwrap]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from traitlets.config import Config

from autograder.sandbox import measure
from autograder.sandbox.manager import SandboxKernelManager

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = '''
import atexit, subprocess, sys
busy = [sys.executable, "-c", "while True: pass"]
hogs = [subprocess.Popen(busy, start_new_session=True) for _ in range({busy})]
atexit.register(lambda: [hog.kill() for hog in hogs])  # mode "none": nothing else would
'''

HONEST = '''
import time
start = time.perf_counter()
total = 0
for number in range(20_000_000):
    total += number
print(time.perf_counter() - start)
'''


async def _kernel(mode: str, cwd: Path) -> tuple[SandboxKernelManager, object]:
    config = Config()
    config.SandboxKernelManager.mode = mode
    config.SandboxKernelManager.fork_server = False
    config.SandboxKernelManager.mpl_font_list = False
    config.SandboxKernelManager.process_limit = 256
    config.CourseDirectory.root = str(ROOT)
    manager = SandboxKernelManager(config=config)
    await manager.start_kernel(cwd=str(cwd), extra_arguments=[
        "--HistoryManager.hist_file=:memory:"])
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


async def _run(client: object, code: str) -> str:
    said: list[str] = []

    def hook(message: dict) -> None:
        if message["msg_type"] == "stream":
            said.append(message["content"]["text"])

    await client.execute_interactive(code, timeout=600, output_hook=hook)  # type: ignore[attr-defined]
    return "".join(said)


async def _honest_time(mode: str, cwd: Path, busy: int) -> float:
    honest, honest_client = await _kernel(mode, cwd)
    hostile = hostile_client = None
    try:
        if busy:
            hostile, hostile_client = await _kernel(mode, cwd)
            await _run(hostile_client, HOSTILE.format(busy=busy))
            await asyncio.sleep(1)
        return float(await _run(honest_client, HONEST))
    finally:
        for manager, client in ((honest, honest_client), (hostile, hostile_client)):
            if manager is not None:
                client.stop_channels()  # type: ignore[attr-defined]
                await manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=24)
    parser.add_argument("--mode", default="bwrap", choices=["bwrap", "none"])
    options = parser.parse_args()
    demote = measure.demote_new_sessions
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        alone = asyncio.run(_honest_time(options.mode, cwd, 0))
        demoted = asyncio.run(_honest_time(options.mode, cwd, options.busy))
        measure.demote_new_sessions = lambda pids, keep: None  # type: ignore[assignment]
        try:
            undemoted = asyncio.run(_honest_time(options.mode, cwd, options.busy))
        finally:
            measure.demote_new_sessions = demote  # type: ignore[assignment]
    print(f"honest loop alone: {alone:.2f} s")
    print(f"beside {options.busy} busy sessions, demoted:     {demoted:.2f} s "
          f"({demoted / alone:.1f}x)")
    print(f"beside {options.busy} busy sessions, not demoted: {undemoted:.2f} s "
          f"({undemoted / alone:.1f}x)")


if __name__ == "__main__":
    main()
