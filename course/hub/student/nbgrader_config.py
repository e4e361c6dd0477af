"""A student's nbgrader on the hub: which course, and where its exchange is.

The students' image puts this in /etc/jupyter (course/hub/jupyterhub_config.py
puts this folder first on JUPYTER_CONFIG_PATH). It must not be the course's own
nbgrader_config.py: students never see the course root. nbgrader takes the
student id from the login name.
"""

import os

c = get_config()  # noqa: F821 (traitlets defines it for configuration files)
c.CourseDirectory.course_id = "miniflow"
c.Exchange.root = os.environ.get("MINIFLOW_EXCHANGE", "/srv/nbgrader/exchange")
# A submission only its author and the instructors read (autograder/collect/submit.py):
# nbgrader's own submit leaves it open to anyone who learns its name.
c.ExchangeFactory.submit = "autograder.collect.submit.PrivateSubmit"
