"""What a sandboxed kernel may see of this machine, and the font list made from it.

The system's folders and the Python environment are bound read-only into every
kernel's sandbox (``autograder.sandbox.command``). matplotlib's font list is made once
per run from the fonts found there (``font_list``), by a process of its own
that imports only this module and matplotlib (``files.start_font_list``):
not jupyter_client, which the sandbox's kernel manager needs, and which would
add a tenth of a second to a process on the way to the first notebook.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Top-level folders of the system; each is bound read-only (or re-created as
# the same symlink) when it exists.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _covers(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def _editable_packages() -> list[Path]:
    """Package folders that setuptools' editable installs map by name (not via sys.path)."""
    folders = []
    for finder in sys.meta_path:
        module = sys.modules.get(getattr(finder, "__module__", ""))
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict):
            folders += [Path(p) for p in mapping.values()]
    return folders


def python_paths(forbidden: Iterable[Path]) -> list[Path]:
    """Folders the kernel's Python needs, read-only; none contains a forbidden folder."""
    import importlib.util

    forbidden = [Path(os.path.realpath(f)) for f in forbidden]
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))]
    # sys.path[0] is the running script's folder or the current folder (unless
    # -P): never part of the Python environment.
    entries = sys.path if sys.flags.safe_path else sys.path[1:]
    candidates += [p for p in entries if p and os.path.isabs(p)]
    candidates += [str(p) for p in _editable_packages()]
    for name in ("miniflow", "autograder", "ipykernel", "numpy", "matplotlib"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            candidates += list(spec.submodule_search_locations)
    chosen: list[Path] = []
    for candidate in candidates:
        path = Path(os.path.realpath(candidate))
        if not path.is_dir() or path == Path("/"):
            continue
        if any(_covers(path, f) for f in forbidden):
            continue  # binding it would show the course or the grader's files
        if any(_covers(c, path) for c in chosen):
            continue
        chosen = [c for c in chosen if not _covers(path, c)] + [path]
    return sorted(chosen)


# A folder where the font list was made ahead (``start_font_list``), if any.
FONT_LIST_AHEAD = "MINIFLOW_FONT_LIST"


@functools.lru_cache(maxsize=1)
def font_list() -> tuple[str, bytes] | None:
    """matplotlib's font list, as a kernel would build it: (file name, JSON).

    Each kernel gets a fresh matplotlib folder, so without this each one scans
    the machine's fonts again as it imports pyplot (about 0.12 s of CPU per
    notebook). This process scans once, keeps only fonts a sandboxed kernel
    can read (system folders and the Python environment), and every kernel
    gets the result as a read-only file. Should a listed font be missing,
    matplotlib scans again, as it would have anyway. None without matplotlib.
    When ``$MINIFLOW_FONT_LIST`` names a folder holding the list already
    made (``start_font_list``), that list is used.
    """
    ahead = os.environ.get(FONT_LIST_AHEAD)
    made = sorted(Path(ahead).glob("fontlist-v*.json")) if ahead else []
    if len(made) == 1:
        with contextlib.suppress(OSError):
            return made[0].name, made[0].read_bytes()
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    manager = font_manager.FontManager()
    readable = [Path(os.path.realpath(p)) for p in (*SYSTEM, *python_paths([Path.home()]))]

    def visible(font: Any) -> bool:
        path = Path(os.path.realpath(font.fname))
        return any(_covers(folder, path) for folder in readable)

    manager.ttflist = [font for font in manager.ttflist if visible(font)]
    manager.afmlist = [font for font in manager.afmlist if visible(font)]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "fonts.json"
        font_manager.json_dump(manager, target)
        if not target.is_file():  # matplotlib logs why it could not write it
            return None
        return f"fontlist-v{font_manager.FontManager.__version__}.json", target.read_bytes()


def make_font_list(folder: str) -> None:
    """Write ``font_list()`` into ``folder``, whole or not at all (``start_font_list``)."""
    made = font_list()
    if made is not None:
        name, data = made
        partial = Path(folder) / f".{name}"
        partial.write_bytes(data)
        partial.rename(Path(folder) / name)
