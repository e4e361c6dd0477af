"""What the grading benchmarks share: alternate two setups, compare medians."""

from __future__ import annotations

import statistics


def report(title: str, seconds: dict[str, list[float]], base: str, other: str,
           labels: dict[str, str], what: str) -> None:
    """Print each setup's median seconds per submission and the overhead of ``other``."""
    print(title)
    for name in (base, other):
        runs = ", ".join(f"{s:.2f}" for s in seconds[name])
        print(f"  {labels[name]:15}  median {statistics.median(seconds[name]):.2f} s per "
              f"submission  (runs: {runs})")
    ratio = statistics.median(seconds[other]) / statistics.median(seconds[base])
    print(f"  {what}: {100 * (ratio - 1):+.1f}%")
