"""Imported first by grading kernels that never draw: matplotlib skips its property tables.

As matplotlib imports, every artist class builds the docstring of its
``set`` method, a table of all its properties (``matplotlib.artist.kwdoc``),
and docstrings such as ``plt.plot``'s get more of those tables. That is
about a quarter of what importing ``matplotlib.pyplot`` costs (0.09 of 0.32
CPU-seconds here), in every grading kernel, for text only a person reading
``help()`` sees. A grading kernel (``c.SandboxKernelManager.mpl_backend =
"module://autograder.kernel.figures"``, with a ``preload``) imports this module
before anything else, so the tables read "not listed" instead. Nothing else
changes: every setter, signature and alias is matplotlib's own.
Students' kernels and nbval never import it.
"""

from __future__ import annotations

import matplotlib.artist

UNLISTED = "Properties: not listed in grading kernels (autograder.kernel.mpl_docs)."


def _unlisted(artist: object) -> str:
    return UNLISTED


matplotlib.artist.kwdoc = _unlisted
