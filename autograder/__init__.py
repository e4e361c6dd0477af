"""autograder: the grading side of the miniflow course.

Hidden-test checks with diagnostic messages, the instructor pipeline CLI and
the self-check that grades known-wrong implementations. Filled in by the
autograder issue; for now the package only marks its place.
"""

__all__: list[str] = []
