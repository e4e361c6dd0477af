"""Command-line entry point: ``python -m autograder SUBCOMMAND``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("autograder: the instructor pipeline is not built yet; see the README.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
