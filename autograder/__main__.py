"""``python -m autograder``: the instructor's command line (``autograder.cli.main``)."""

from autograder.cli.main import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    raise SystemExit(run())
