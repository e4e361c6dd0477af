"""The course's nbgrader_config.py, read as nbgrader reads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.course_config import nbgrader_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("seconds", ["5", "45"])
def test_the_judge_may_take_as_long_as_a_cell(monkeypatch, seconds):
    """A looping answer costs the judge one cell's time, not a fixed 30 s more."""
    monkeypatch.setenv("MINIFLOW_CELL_TIMEOUT", seconds)
    config = nbgrader_config(ROOT)
    assert config.Execute.timeout == int(seconds)
    assert config.SandboxedExecute.judge_timeout == int(seconds)


def test_reading_the_configuration_loads_no_gradebook_code():
    """The autograder reads the file often; only an nbgrader command patches its API."""
    program = ("import sys; from pathlib import Path\n"
               "from autograder.core.course_config import nbgrader_config\n"
               f"nbgrader_config(Path({str(ROOT)!r}))\n"
               "print('nbgrader.api' in sys.modules, 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
