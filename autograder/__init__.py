"""autograder: the grading side of the miniflow course, in layers (docs/architecture.md).

    cli/        the instructor's command line (python -m autograder)
    author/     release, the self-check, the demo term, the mutants
    pipeline/   grade: check, hand out, judge, score, record
    run/        the worker pool, one submission in a worker, Dask, the journal
    collect/    submissions in from an LMS archive, a folder or the exchange
    execute/    nbgrader's preprocessor in the sandbox, and the direct runner
    publish/    feedback, the class report, grades.csv, the roster, formgrader pages
    record/     the gradebook, late work, which tests graded what
    kernel/     code that runs in the student's kernel (the guard, figures)
    checks/     the diagnostic checks the notebooks' tests call
    judge/      the trusted verdict outside the kernel, and the static review
    sandbox/    bubblewrap, limits, the fork server
    core/       the manifest, cell rules, reason codes, the course lock, ...
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


# What nbgrader imports from setuptools (for unpacking the archives of its zip
# collect); see defer_setuptools.
_ARCHIVE_UTIL = "setuptools.archive_util"
_UNPACKERS = ("unpack_archive", "unpack_tarfile", "unpack_zipfile")


def defer_setuptools() -> None:
    """Import setuptools only once nbgrader unpacks an archive, not as it starts.

    nbgrader's ``utils`` imports three functions of ``setuptools.archive_util``
    at its top, and with them all of setuptools and pkg_resources: 0.1 s of
    CPU in every command that imports nbgrader, on the way to the first
    graded notebook. Here a stand-in takes that module's place: its three
    functions import the real module at their first call and hand it the call;
    any other name of it imports the real module too. Nothing changes where
    setuptools or that module is already imported. Called by the command line
    (``autograder.cli.main``), before it imports nbgrader; kernels never get it.
    """
    import sys
    import types

    if "setuptools" in sys.modules or _ARCHIVE_UTIL in sys.modules:
        return
    stand_in = types.ModuleType(_ARCHIVE_UTIL, "setuptools.archive_util, imported at first use")

    def real() -> types.ModuleType:
        import importlib

        if sys.modules.get(_ARCHIVE_UTIL) is stand_in:
            del sys.modules[_ARCHIVE_UTIL]
        return importlib.import_module(_ARCHIVE_UTIL)

    def deferred(name: str):  # noqa: ANN202 - a stand-in for any of the three
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return getattr(real(), name)(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        return call

    def other(name: str) -> object:
        if name.startswith("__"):  # what the import system asks (__path__...): not a package
            raise AttributeError(name)
        return getattr(real(), name)

    for name in _UNPACKERS:
        setattr(stand_in, name, deferred(name))
    stand_in.__getattr__ = other  # type: ignore[attr-defined]
    sys.modules[_ARCHIVE_UTIL] = stand_in

