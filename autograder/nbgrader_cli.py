"""Run nbgrader's own commands the way the course needs them.

nbgrader stays the engine; this is the one place that starts it, so every
caller gets the same environment: the Python running us, with its scripts
folder first on PATH (nbgrader shells out to ``alembic`` to set up the
gradebook, and inside an un-activated virtual environment that script is
not on PATH otherwise).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NbgraderError", "nbgrader_environment", "run_nbgrader"]


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output."""


def nbgrader_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with this interpreter's scripts folder first on PATH."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    # Figures in executed notebooks never need a screen.
    env.setdefault("MPLBACKEND", "Agg")
    # No file in the folder nbgrader runs in can shadow a module (python -P).
    env["PYTHONSAFEPATH"] = "1"
    env.update(extra or {})
    return env


def run_nbgrader(args: Sequence[str], cwd: str | Path, *, check: bool = True,
                 timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m nbgrader ARGS`` in ``cwd``; raise NbgraderError on failure if ``check``."""
    result = subprocess.run([sys.executable, "-P", "-m", "nbgrader", *args], cwd=cwd,
                            env=nbgrader_environment(), capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}) in "
                            f"{cwd}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result
