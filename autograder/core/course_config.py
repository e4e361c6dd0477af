"""The course's ``nbgrader_config.py``, read once per question, the way nbgrader reads it.

The grader asks the course's configuration a few things nbgrader also reads
there (the gradebook's URL, the exchange's root, the sandbox's mode and
limits); it reads the file with traitlets' own loader, so a value means to
the grader exactly what it means to plain nbgrader. This is the one place
that reads it.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

__all__ = ["CONFIG_FILE", "nbgrader_config"]

CONFIG_FILE = "nbgrader_config.py"


def nbgrader_config(root: Path) -> Config:
    """``root``'s nbgrader_config.py as a traitlets ``Config``.

    Raises traitlets' ``ConfigFileNotFound`` when the course has none.
    """
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
