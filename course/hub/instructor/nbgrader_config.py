"""The instructor's nbgrader on the hub: the exchange, shared with the students.

The course's own settings live in the course root's nbgrader_config.py, which
nbgrader reads when the instructor works there (a clone of this repository in
the instructor's home; Formgrader and `python -m autograder` run from it).
"""

import os

c = get_config()  # noqa: F821 (traitlets defines it for configuration files)
c.CourseDirectory.course_id = "miniflow"
c.Exchange.root = os.environ.get("MINIFLOW_EXCHANGE", "/srv/nbgrader/exchange")
