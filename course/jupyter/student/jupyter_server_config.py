"""The student's JupyterLab also loads the course's own prebuilt lab extension,
course/jupyter/labextensions/miniflow-course-a11y (names and roles JupyterLab
leaves out of its notebook page; axe-core finds them). A Python file because
the folder must be found from wherever the server starts: it is next to this
one, whatever the working directory. The JSON file beside it holds the rest.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (traitlets defines it for configuration files)
c.LabApp.extra_labextensions_path = [str(Path(__file__).resolve().parent.parent / "labextensions")]
