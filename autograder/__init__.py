"""autograder: the grading side of the miniflow course.

    __main__        the instructor's CLI: release, collect, grade, flags, feedback,
                    export, report, selfcheck, demo
    grading         grade: supervised workers, scores computed by the parent
    workers         the worker processes, one submission at a time
    cluster         the same work on a Dask cluster (grade --scheduler)
    sandbox         every grading kernel in bubblewrap, with resource limits
    nbgrader_plugins  what nbgrader_config.py plugs into plain nbgrader
    guard           the tamper guard that runs inside the kernel
    trusted         probes whose answers are judged outside the kernel
    review          static review of the submitted file
    checks          the hidden tests' diagnostic checks
    gradebook       the one writer and the one record of scores
    feedback, report, collect, release, selfcheck, demo, mutants
"""

__all__: list[str] = []


def _skip_iri_grammars() -> None:
    """Keep ``jsonschema`` from building the IRI grammars nobody here uses.

    When the optional ``rfc3987_syntax`` package is installed (JupyterLab's
    event schemas pull it in), ``jsonschema`` imports it to check the "iri"
    string format, and that import builds 38 parsers: 1.2 s of CPU in every
    process that reads a notebook (nbformat validates with jsonschema), so in
    the grader, in each grading worker and in each command. No notebook or
    gradebook schema uses that format. Marking the module absent makes
    ``jsonschema``'s guarded import fail, so the check is simply not offered.
    A process that already imported it keeps it.
    """
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


_skip_iri_grammars()
