"""The judge's miniflow: the course's library without the answers being graded.

For each assignment, ``autograder.judge.plans.HIDDEN`` names what the judge must
not be able to reach: the reference classes and functions of the exercises
being graded (``"nodes.Linear"``), or a whole module (``"tensor"``). This
module writes a copy of miniflow's source files with those definitions, the
imports of them and their ``__all__`` entries removed, so that a student's
class that hands its work to the reference fails in the judge by
construction, while what the course builds on (``Node``, ``Input``, earlier
exercises' references) is there as usual. Only ``.py`` files are copied: the
judge needs no data sets (its inputs arrive as numbers).
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["judge_library", "strip_module", "write_library"]


def strip_module(source: str, hidden: set[str]) -> str:
    """``source`` without the top-level definitions and imports of the names in ``hidden``."""
    tree = ast.parse(source)
    body: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and statement.name in hidden:
            continue
        if isinstance(statement, ast.ImportFrom):
            statement.names = [a for a in statement.names if a.name not in hidden
                               and (a.asname or a.name) not in hidden]
            if not statement.names:
                continue
        if isinstance(statement, ast.Assign):
            targets = [t for t in statement.targets if isinstance(t, ast.Name)]
            if any(t.id in hidden for t in targets):
                continue
            if any(t.id == "__all__" for t in targets) and isinstance(
                    statement.value, (ast.List, ast.Tuple)):
                statement.value.elts = [e for e in statement.value.elts if not (
                    isinstance(e, ast.Constant) and e.value in hidden)]
        body.append(statement)
    tree.body = body
    return ast.unparse(tree) + "\n"


def _stripped(package: Path, hidden: Iterable[str]) -> dict[str, str]:
    entries = list(hidden)
    modules = {e for e in entries if "." not in e}
    names = {e.split(".", 1)[1] for e in entries if "." in e}
    files = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        module = ".".join(relative.with_suffix("").parts)
        if module in modules or "__pycache__" in relative.parts:
            continue
        # Every module drops the hidden names: their definitions where they live,
        # their imports everywhere else (miniflow/__init__.py re-exports them).
        hidden_here = names | {m.rsplit(".", 1)[-1] for m in modules}
        files[relative.as_posix()] = strip_module(path.read_text(encoding="utf-8"),
                                                  hidden_here)
    return files


_made: dict[str, dict[str, str]] = {}


def judge_library(assignment: str) -> dict[str, str]:
    """``miniflow/`` as the judge of ``assignment`` may see it: relative path -> source.

    Made once per process and assignment (and miniflow's source), in memory; each
    judge writes it into its own folder, removed with it (``write_library``).
    """
    import miniflow
    from autograder.judge.plans import HIDDEN

    package = Path(miniflow.__file__).resolve().parent
    hidden = sorted(HIDDEN.get(assignment, []))
    fingerprint = hashlib.sha256(repr(hidden).encode())
    for path in sorted(package.rglob("*.py")):
        fingerprint.update(str(path.relative_to(package)).encode())
        fingerprint.update(path.read_bytes())
    key = f"{assignment}-{fingerprint.hexdigest()}"
    if key not in _made:
        _made[key] = _stripped(package, hidden)
    return _made[key]


def write_library(files: dict[str, str], folder: Path) -> Path:
    """Write ``files`` (from ``judge_library``) as ``folder/miniflow``, readable by all."""
    target = folder / "miniflow"
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for root, _folders, names in os.walk(folder):
        os.chmod(root, 0o755)
        for name in names:
            os.chmod(os.path.join(root, name), 0o644)
    return target
