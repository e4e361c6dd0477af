"""A JupyterHub for the course on one machine: local Unix accounts, one server each.

What `make hub` starts and what tests/test_hub.py runs, for real, with a
browser: JupyterHub (from PyPI) behind configurable-http-proxy (from npm,
``npm ci --prefix course/hub``), PAM logins of local Unix users, and
JupyterHub's local-process spawner, which starts each user's JupyterLab as
that user. It must run as root: PAM checks passwords and the spawner
switches user. Everything is set by environment variables, so the same file
serves a trial on a laptop and the test:

==========================  ============================================  =====================
variable                    what                                          default
==========================  ============================================  =====================
MINIFLOW_HUB_PORT           the hub's public port (127.0.0.1 only);       8000
                            the proxy's API and the hub take the next two
MINIFLOW_HUB_STATE          a folder for the hub's database, cookie       ./.hub (course root)
                            secret and logs (made 0700)
MINIFLOW_HUB_INSTRUCTORS    logins that get the instructor's server       (none)
                            (nbgrader's Formgrader) and the hub's admin
MINIFLOW_HUB_STUDENTS       logins that get the student's server          (none)
                            (Assignment List and Validate only)
MINIFLOW_EXCHANGE           nbgrader's exchange, shared by all            /srv/nbgrader/exchange
==========================  ============================================  =====================

Only the logins named may sign in. A student's server is configured as the
students' image of docs/jupyterhub.md: the course's student configuration
(course/jupyter/student) and course/hub/student, whose nbgrader_config.py
names the course and the exchange; the instructor's server keeps nbgrader's
instructor tools and starts in the instructor's home.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (traitlets defines it for configuration files)

HERE = Path(__file__).resolve().parent
COURSE = HERE.parent.parent
PORT = int(os.environ.get("MINIFLOW_HUB_PORT", "8000"))
STATE = Path(os.environ.get("MINIFLOW_HUB_STATE", COURSE / ".hub")).resolve()
EXCHANGE = os.environ.get("MINIFLOW_EXCHANGE", "/srv/nbgrader/exchange")


def _logins(variable: str) -> set[str]:
    return {name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()}


INSTRUCTORS = _logins("MINIFLOW_HUB_INSTRUCTORS")
STUDENTS = _logins("MINIFLOW_HUB_STUDENTS")
if not INSTRUCTORS | STUDENTS:
    sys.exit("jupyterhub_config.py: nobody may sign in. Name the local accounts, e.g.\n"
             "  MINIFLOW_HUB_INSTRUCTORS=teacher MINIFLOW_HUB_STUDENTS=alice,bob make hub")
if INSTRUCTORS & STUDENTS:
    sys.exit("jupyterhub_config.py: these logins are both instructors and students: "
             + ", ".join(sorted(INSTRUCTORS & STUDENTS)))
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)

# Where people connect, and the hub's own ports beside it: loopback only.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 2
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" /
                                       "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops everyone's server

# Who may sign in: local Unix accounts (PAM), only those named above.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.Authenticator.admin_users = INSTRUCTORS

# Each user's JupyterLab, started as that user from this course's environment.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def _configure(spawner) -> None:
    """The student's or the instructor's server (docs/jupyterhub.md, the single-user image)."""
    name = spawner.user.name
    env = spawner.environment
    env["MINIFLOW_EXCHANGE"] = EXCHANGE
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
    if name in STUDENTS:
        # Jupyter reads the first folder first: the hub's student settings (the course
        # and the exchange), then the course's student JupyterLab (no instructor tools).
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            [str(HERE / "student"), str(COURSE / "course" / "jupyter" / "student")])
    else:
        env["JUPYTER_CONFIG_PATH"] = str(HERE / "instructor")


c.Spawner.pre_spawn_hook = _configure
