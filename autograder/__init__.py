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
