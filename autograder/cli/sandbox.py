"""The ``--sandbox`` option of the commands that run kernels: its definition, its default
(nbgrader_config.py's), and the mode it resolves to, with the loud warning when kernels
will not be isolated."""

from __future__ import annotations

import argparse
import sys

__all__ = ["resolve_sandbox", "sandbox_option"]


def resolve_sandbox(requested: str) -> str:
    """Resolve --sandbox, printing the loud warning when kernels will not be isolated."""
    from autograder.sandbox.bubblewrap import isolation_warning, resolve_mode

    mode, detail = resolve_mode(requested)
    if mode == "none":
        line = "!" * 78
        print(f"{line}\n{isolation_warning(detail)}\n{line}", file=sys.stderr)
    return mode


def sandbox_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--sandbox", choices=("auto", "bwrap", "none"), default=_configured_sandbox(),
        help="how grading kernels are isolated: bwrap (bubblewrap, refuse without it), "
             "auto (bubblewrap where it works, otherwise warn and grade without isolation) "
             "or none (resource limits only). Default: SandboxKernelManager.mode in "
             "nbgrader_config.py, else auto (now: %(default)s)")


def _configured_sandbox() -> str:
    try:
        from autograder.core.course_config import nbgrader_config
        from autograder.core.manifest import find_course_root

        config = nbgrader_config(find_course_root())
        return str(config.SandboxKernelManager.get("mode", "auto"))
    except Exception:  # outside a course, or an unreadable config: the command says so later
        return "auto"
