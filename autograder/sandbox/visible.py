"""What a sandboxed kernel may see of this machine, and the font list made from it.

The system's folders and the Python environment are bound read-only into every
kernel's sandbox (``autograder.sandbox.command``). matplotlib's font list is
made from the fonts found there (``font_list``), by a process of its own that
imports only this module and matplotlib (``files.start_font_list``): not
jupyter_client, which the sandbox's kernel manager needs, and which would add
a tenth of a second to a process on the way to the first notebook. It is kept
between runs (``make_font_list``): making it costs most of a CPU-second, and
most runs would make the same list.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
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


#: Where fonts are installed on a Linux machine (matplotlib's X11 folders and the
#: user's); with matplotlib's own fonts, what ``font_list_key`` looks at.
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "/usr/X11R6/lib/X11/fonts",
                "/usr/X11/lib/X11/fonts", "~/.local/share/fonts", "~/.fonts")


def font_cache() -> Path:
    """Where font lists are kept between runs: ``$XDG_CACHE_HOME/miniflow-course/fonts``
    (``~/.cache/...`` by default), the grader's own, never a kernel's."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base, "miniflow-course", "fonts")


def font_list_key() -> str | None:
    """What the font list depends on, as a hash; None without matplotlib.

    matplotlib's version, the Python environment, the home folder (the list
    keeps only fonts a kernel can read: ``font_list``), and the modification
    time of every folder where fonts are installed, matplotlib's own
    included: a font added or removed changes its folder's time, so the key.
    Reading it imports nothing (matplotlib's import is most of the cost).
    """
    import importlib.metadata
    import importlib.util

    try:
        version = importlib.metadata.version("matplotlib")
        spec = importlib.util.find_spec("matplotlib")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    digest = hashlib.sha256(
        f"{version}\0{os.path.realpath(sys.prefix)}\0{Path.home()}\0".encode())
    folders = [os.path.expanduser(f) for f in FONT_FOLDERS]
    folders += [os.path.join(p, "mpl-data", "fonts") for p in spec.submodule_search_locations]
    for folder in folders:
        for root, inner, _ in os.walk(folder):
            inner.sort()
            with contextlib.suppress(OSError):
                digest.update(f"{root}\0{os.stat(root).st_mtime_ns}\0".encode())
    return digest.hexdigest()[:32]


def _kept_font_list(key: str) -> tuple[str, bytes] | None:
    found = sorted((font_cache() / key).glob("fontlist-v*.json"))
    if len(found) == 1:
        with contextlib.suppress(OSError):
            return found[0].name, found[0].read_bytes()
    return None


def _keep_font_list(key: str, name: str, data: bytes) -> None:
    """Keep the list for later runs, whole or not at all; a cache that cannot be
    written (a read-only home) only means the next run makes it again."""
    with contextlib.suppress(OSError):
        folder = font_cache() / key
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".", delete=False) as partial:
            partial.write(data)
        os.replace(partial.name, folder / name)


def make_font_list(folder: str) -> None:
    """Write the font list into ``folder``, whole or not at all (``start_font_list``):
    the one kept for the same ``font_list_key``, or ``font_list()``, then kept."""
    key = font_list_key()
    made = _kept_font_list(key) if key else None
    if made is None:
        made = font_list()
        if made is not None and key:
            _keep_font_list(key, *made)
    if made is not None:
        name, data = made
        partial = Path(folder) / f".{name}"
        partial.write_bytes(data)
        partial.rename(Path(folder) / name)
