"""The judge's miniflow: the course's library without the answers being graded.

For each assignment, ``autograder.trusted.HIDDEN`` names what the judge must
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
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["judge_library", "strip_module"]


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


def _write(package: Path, destination: Path, hidden: Iterable[str]) -> None:
    entries = list(hidden)
    modules = {e for e in entries if "." not in e}
    names = {e.split(".", 1)[1] for e in entries if "." in e}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        module = ".".join(relative.with_suffix("").parts)
        if module in modules or "__pycache__" in relative.parts:
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Every module drops the hidden names: their definitions where they live,
        # their imports everywhere else (miniflow/__init__.py re-exports them).
        hidden_here = names | {m.rsplit(".", 1)[-1] for m in modules}
        target.write_text(strip_module(path.read_text(encoding="utf-8"), hidden_here),
                          encoding="utf-8")


_made: dict[str, Path] = {}


def judge_library(assignment: str, base: Path | None = None) -> Path:
    """A folder holding ``miniflow/`` as the judge of ``assignment`` may see it.

    Made once per process and assignment (and miniflow's source), in a private
    temporary folder; read-only for everyone else.
    """
    import miniflow
    from autograder.trusted import HIDDEN

    package = Path(miniflow.__file__).resolve().parent
    hidden = sorted(HIDDEN.get(assignment, []))
    fingerprint = hashlib.sha256(repr(hidden).encode())
    for path in sorted(package.rglob("*.py")):
        fingerprint.update(str(path.relative_to(package)).encode())
        fingerprint.update(path.read_bytes())
    key = f"{assignment}-{fingerprint.hexdigest()[:16]}"
    folder = _made.get(key)
    if folder is not None and (folder / "miniflow" / "__init__.py").is_file():
        return folder
    folder = Path(tempfile.mkdtemp(prefix=f"judge-lib-{assignment}-", dir=base))
    _write(package, folder / "miniflow", hidden)
    for root, _folders, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    _made[key] = folder
    return folder
