"""Starting a notebook's kernels, and the spare kernel a grading worker starts ahead.

Every kernel ``SandboxedExecute`` starts, the notebook's own or the spare it
starts for the next notebook while this one runs (``spare_kernel``), gets
the same arguments (``_launch_arguments``), so that a spare is the kernel the
next notebook would have started; it claims it only if nothing it depends on
changed (``spare_key``). A process (a grading worker) keeps one spare at most.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode

from autograder.execute.startup import FIGURES_BACKEND, OUTPUT_READY, preload_line
from autograder.sandbox.bubblewrap import PASS_THROUGH, resolve_mode
from autograder.sandbox.files import data_signature
from autograder.sandbox.manager import SandboxKernelManager, stop_fork_server

__all__ = ["SpareKernelMixin", "discard_spare", "spare_pid", "waiting_spare"]


class SpareKernelMixin:
    """``SandboxedExecute``'s kernel starts: its arguments, and the spare kernel.

    A mixin for ``autograder.execute.preprocessor.SandboxedExecute`` (before
    nbclient's ``NotebookClient`` in its bases): it reads that class's traits
    (``preload``, ``traceback_mode``, ``ipython_history``, ``spare_kernel``)
    and overrides nbclient's ``async_start_new_kernel``.
    """

    def _launch_arguments(self, manager: Any) -> list[str]:
        """The kernel's arguments: nbclient's (history in memory), no history database,
        the traceback layout and the preload."""
        arguments = list(self.extra_arguments)
        ipykernel = getattr(manager, "ipykernel", False)
        if ipykernel and self.traceback_mode and not any(
                a.startswith("--InteractiveShell.xmode") for a in arguments):
            arguments.append(f"--InteractiveShell.xmode={self.traceback_mode}")
        if ipykernel and self.ipython_hist_file and not any(
                a.startswith("--HistoryManager.hist_file") for a in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        if ipykernel and not self.ipython_history and not any(
                a.startswith("--HistoryManager.enabled") for a in arguments):
            arguments.append("--HistoryManager.enabled=False")
        if not ipykernel:
            return arguments
        modules, then = list(self.preload), [OUTPUT_READY]
        if modules and getattr(manager, "mpl_backend", "") == FIGURES_BACKEND and any(
                m.split(".")[0] in ("matplotlib", "miniflow") for m in modules):
            modules.insert(0, "autograder.kernel.mpl_docs")  # before matplotlib: see there
            # pyplot's backend, which it would import at the first figure of every
            # kernel (0.03 CPU-seconds); a fork server imports it before any shell
            # exists, so the kernel hooks it to the shell it has.
            modules.append("autograder.kernel.figures")
            then.append("import autograder.kernel.figures as f; f.close_after_each_cell()")
        arguments.append(f"--IPKernelApp.exec_lines={preload_line(modules, then)}")
        if modules and isinstance(manager, SandboxKernelManager):
            manager.preload_modules = modules  # a fork server imports them before it forks
        return arguments

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        assert self.km is not None
        resource_path = self.resources.get("metadata", {}).get("path") or None
        if resource_path:
            kwargs.setdefault("cwd", resource_path)
        await ensure_async(self.km.start_kernel(
            extra_arguments=self._launch_arguments(self.km), **kwargs))

    def spare_key(self, cwd: str | None) -> str | None:
        """What a kernel started for ``cwd`` depends on; None: no spare kernels here."""
        if not self.spare_kernel or self.kernel_manager_class is not SandboxKernelManager:
            return None
        # The kernel nbclient would start for this notebook (its kernelspec's).
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or ""
        section = dict(self.config.get("SandboxKernelManager", {}))
        # Only behind bubblewrap: unsandboxed, a notebook could reach the next one's kernel.
        if resolve_mode(section.get("mode", SandboxKernelManager.mode.default_value))[0] \
                != "bwrap":
            return None
        inherited = {key: os.environ.get(key) for key in PASS_THROUGH}  # the kernel's too
        return json.dumps([self.kernel_name, self.extra_arguments, self.ipython_hist_file,
                           self.ipython_history, self.preload, self.traceback_mode, section,
                           dict(self.config.get("KernelManager", {})), inherited,
                           data_signature(Path(cwd) if cwd else None), cwd is None],
                          sort_keys=True, default=repr)

    async def claim_spare(self, key: str | None) -> Any:
        """The spare kernel started for this notebook, if it is still the right one."""
        global _spare
        spare, _spare = _spare, None
        if spare is None:
            return None
        manager, spare_key = spare
        if key is None or spare_key != key or not await ensure_async(manager.is_alive()):
            await _shut_down(manager)
            return None
        manager.restart_clock()
        return manager

    def start_spare_for(self, nb: NotebookNode, cwd: str) -> None:
        """Start, now, the kernel ``nb`` run in ``cwd`` would claim (a worker's first)."""
        self.nb = nb
        run_sync(self.start_spare)(self.spare_key(cwd), cwd)

    async def start_spare(self, key: str | None, cwd: str | None) -> None:
        """Start the next notebook's kernel now; it boots while this notebook runs."""
        global _spare
        if key is None:
            return
        if _spare is not None:
            await _shut_down(_spare[0])
            _spare = None
        manager = self.kernel_manager_class(
            config=self.config, **({"kernel_name": self.kernel_name} if self.kernel_name else {}))
        try:
            await ensure_async(manager.start_kernel(
                extra_arguments=self._launch_arguments(manager),
                **({"cwd": cwd} if cwd else {})))
        except Exception as error:  # the next notebook starts its own kernel, as usual
            self.log.warning("could not start a spare kernel: %s", error)
            await _shut_down(manager)
            return
        _spare = (manager, key)


# The spare kernel of this process (a grading worker): (manager, what it was started for).
_spare: tuple[Any, str] | None = None


async def _shut_down(manager: Any) -> None:
    try:
        await ensure_async(manager.shutdown_kernel(now=True))
    except Exception:  # already gone: only its files are left
        await ensure_async(manager.cleanup_resources())


def waiting_spare() -> Any | None:
    """The kernel manager of this process's spare kernel, if one is waiting."""
    return _spare[0] if _spare is not None else None


def spare_pid() -> int | None:
    """The process id of this process's spare kernel (its sandbox), if one is waiting."""
    process = getattr(getattr(waiting_spare(), "provisioner", None), "process", None)
    return process.pid if process is not None and process.poll() is None else None


def discard_spare() -> None:
    """Stop this process's spare kernel and fork server, and remove their files.

    For a worker that is done.
    """
    global _spare
    if _spare is not None:
        manager, _spare = _spare[0], None
        run_sync(_shut_down)(manager)
    stop_fork_server()
