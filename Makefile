# miniflow course: one command per job. Each target sets itself up first:
# it uses the active virtual/conda environment if there is one, otherwise it
# creates ./.venv and installs the course there (pip install -e ".[dev]").

.DEFAULT_GOAL := help
SYSTEM_PYTHON ?= python3
VENV := .venv

ifneq ($(or $(VIRTUAL_ENV),$(CONDA_PREFIX)),)
PYTHON := python
STAMP := .setup-done-active-env
else
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
endif
# uv, when it is on PATH (or UV=/path/to/uv), installs the same packages as pip in
# 20 s instead of a minute; without it, pip does. Compiled to bytecode at install, as
# pip does: sandboxed kernels and judges cannot write __pycache__, and would compile
# numpy's and matplotlib's modules again in every process.
UV ?= $(shell command -v uv 2>/dev/null)

# Jupyter refuses to start as root (a container's default user) without this.
LAB_AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help setup demo unit test lab lab-instructor hub lint bench clean notebooks selfcheck

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create the environment and install the course (once)

$(STAMP): pyproject.toml
ifeq ($(or $(VIRTUAL_ENV),$(CONDA_PREFIX)),)
	$(SYSTEM_PYTHON) -m venv $(VENV)
endif
ifneq ($(UV),)
	$(UV) pip install --quiet --compile-bytecode --python $(PYTHON) --editable ".[dev]"
else
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet --editable ".[dev]"
endif
	@touch $@

demo: $(STAMP)  ## the main job: the instructor pipeline end to end on a synthetic class
	$(PYTHON) -m autograder demo

unit: $(STAMP)  ## the unit tests alone (tests/unit/, one folder per package): no kernel, seconds
	$(PYTHON) -m pytest -q tests/unit

test: $(STAMP)  ## run the whole test suite: two test files at a time, then the ones that must run alone
	$(PYTHON) -m pytest -n 2 --dist loadfile -m "not alone" --durations=25
	$(PYTHON) -m pytest -m alone

# Students get nbgrader's Validate button; the instructor tools (Formgrader,
# Create Assignment) and JupyterLab's news pop-up are switched off by the
# configuration in course/jupyter/student, added in front of any
# JUPYTER_CONFIG_PATH. The Assignment List only works with an exchange: on a
# laptop there is none (it would say "Error fetching courses!"), so it is
# hidden too (course/jupyter/student-offline, in front) unless EXCHANGE=yes is given
# (`make lab EXCHANGE=yes`, with c.Exchange.root in nbgrader_config.py).
STUDENT_CONFIG_DIRS := $(if $(filter yes,$(EXCHANGE)),,$(CURDIR)/course/jupyter/student-offline:)$(CURDIR)/course/jupyter/student
STUDENT_JUPYTER_CONFIG := $(STUDENT_CONFIG_DIRS)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))

lab: $(STAMP)  ## open the course in JupyterLab, as a student (Validate; EXCHANGE=yes: the Assignment List)
	JUPYTER_CONFIG_PATH="$(STUDENT_JUPYTER_CONFIG)" $(PYTHON) -m jupyter lab --notebook-dir=. $(LAB_AS_ROOT)

lab-instructor: $(STAMP)  ## JupyterLab with nbgrader's instructor tools too (Formgrader, Create Assignment)
	$(PYTHON) -m jupyter lab --notebook-dir=. $(LAB_AS_ROOT)

# The course's JupyterHub on this machine (course/hub/jupyterhub_config.py, what
# tests/test_hub.py runs): local Unix accounts sign in with their passwords, each gets
# their own JupyterLab; as root. HUB_EXCHANGE is nbgrader's exchange (made 0777 if missing).
HUB_EXCHANGE ?= /srv/nbgrader/exchange
HUB_PORT ?= 8000

course/hub/node_modules/.package-lock.json: course/hub/package-lock.json
	npm ci --prefix course/hub --no-audit --no-fund

hub: $(STAMP) course/hub/node_modules/.package-lock.json  ## a JupyterHub on 127.0.0.1 for local accounts (as root): make hub INSTRUCTORS=ann STUDENTS=alice,bob
	@test "$$(id -u)" = 0 || { echo "make hub: run it as root (PAM logins, a server per account)"; exit 2; }
	@test -d "$(HUB_EXCHANGE)" || { mkdir -p "$(HUB_EXCHANGE)" && chmod 777 "$(HUB_EXCHANGE)"; }
	MINIFLOW_HUB_INSTRUCTORS="$(INSTRUCTORS)" MINIFLOW_HUB_STUDENTS="$(STUDENTS)" \
	MINIFLOW_HUB_PORT="$(HUB_PORT)" MINIFLOW_EXCHANGE="$(HUB_EXCHANGE)" \
	$(PYTHON) -m jupyterhub -f course/hub/jupyterhub_config.py

lint: $(STAMP)  ## static checks: ruff, and the grader's import contracts (pyproject.toml)
	$(PYTHON) -m ruff check miniflow autograder course tests benchmarks nbgrader_config.py
	$(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())" --no-cache

bench: $(STAMP)  ## time miniflow against hand-written numpy
	$(PYTHON) benchmarks/bench_training.py

clean:  ## remove the local environment and generated grading folders
	rm -rf $(VENV) .setup-done-active-env .hub course/hub/node_modules submitted autograded feedback reports gradebook.db grades.csv test-artifacts

notebooks: $(STAMP)  ## rebuild source/ and release/ from course/notebooks/*.py
	$(PYTHON) -m course.build

selfcheck: $(STAMP)  ## solutions full marks, blanks zero, every mutant loses points
	$(PYTHON) -m autograder selfcheck
