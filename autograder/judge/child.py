"""The judge's program: it runs in a fresh sandboxed process, never in a kernel.

The grader writes this file, followed by the runners of
``autograder.judge.runners`` it needs (as source), into the judge's folder and
starts ``python -I -S`` on it. It uses the standard library, numpy and the
judge's own copy of miniflow (``autograder.judge.library``) and nothing else:
no IPython, no autograder, no hidden test, no reference of the exercises
being graded.

It talks to the grader through its standard input and output, one JSON
object a line, one answer for each request, in order:

- ``{"op": "define", "cells": [{"cell": n, "code": [statement, ...]}]}``: run
  the notebook's definitions (``autograder.judge.code``), each statement on its
  own (one that fails is skipped); answer which failed.
- ``{"op": "grader", "module": name, "source": text, "names": [...]}``: load
  the grader's version of an earlier exercise, for the questions that build on it.
- ``{"op": "ask", "kind": kind, "name": name, "spec": {...}}``: call the
  runner of ``kind`` on the notebook's ``name``; answer what came out (plain
  numbers, lists and strings), or the error it raised.

Before any student code runs, the answers' channel is moved to a descriptor
of its own and standard output and error go nowhere: what student code
prints is never read.
"""

import builtins
import json
import os
import sys
import traceback
import types

GRADER = {}  # the grader's versions of earlier exercises, by name
RUNNERS = {}  # kind -> runner: the grader appends the runners, and this table, below


def grader_version(name):  # what the runners call for GRADER_VERSIONS
    return GRADER[name]


def _plain_error(error):
    return f"{type(error).__name__}: {error}"[:500]


def _define(space, cells):
    failed = []
    for cell in cells:
        for number, statement in enumerate(cell["code"]):
            try:
                exec(compile(statement, f"<cell {cell['cell']}>", "exec"), space)
            except BaseException as error:  # noqa: BLE001 (student code: anything goes)
                if isinstance(error, KeyboardInterrupt):
                    raise
                failed.append({"cell": cell["cell"], "statement": number,
                               "error": _plain_error(error)})
    return {"failed": failed[:200]}


def _load_grader(request):
    module = types.ModuleType("_grader_" + request["module"].replace(".", "_"))
    module.__dict__["__builtins__"] = builtins
    sys.modules[module.__name__] = module
    exec(compile(request["source"], f"<grader's {request['module']}>", "exec"), module.__dict__)
    for name, attribute in request["names"].items():
        GRADER[name] = module.__dict__[attribute]
    return {"loaded": sorted(request["names"])}


def _ask(space, request):
    runner = RUNNERS.get(request["kind"])
    if runner is None:
        return {"error": f"the judge has no runner {request['kind']!r}"}
    target = space.get(request["name"])
    if target is None:
        return {"error": f"NameError: {request['name']} is not defined in the notebook"}
    import numpy

    strict = bool(request["spec"].get("strict"))
    try:
        if strict:  # large inputs: overflowing on the way is the mistake asked about
            with numpy.errstate(over="raise", invalid="raise", divide="raise"):
                return runner(target, request["spec"])
        return runner(target, request["spec"])
    except RecursionError:
        return {"error": "RecursionError: maximum recursion depth exceeded"}
    except BaseException as error:  # noqa: BLE001
        if isinstance(error, KeyboardInterrupt):
            raise
        frames = traceback.extract_tb(error.__traceback__)
        where = next((f"{f.filename}, line {f.lineno}" for f in reversed(frames)
                      if f.filename.startswith("<cell")), "")
        return {"error": _plain_error(error), "where": where}


def main():
    sys.setrecursionlimit(3000)
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    nothing = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(nothing, descriptor)
    # The notebook's namespace is a module of its own, named __main__ as in a kernel.
    notebook = types.ModuleType("__main__")
    sys.modules["__main__"] = notebook
    space = notebook.__dict__
    space["__builtins__"] = builtins
    import numpy  # noqa: F401 (imported before student code, from the judge's folder)

    for line in requests:
        request = json.loads(line)
        op = request.get("op")
        if op == "define":
            answer = _define(space, request["cells"])
        elif op == "grader":
            answer = _load_grader(request)
        elif op == "ask":
            answer = _ask(space, request)
        else:
            answer = {"error": f"unknown request {op!r}"}
        try:
            text = json.dumps(answer, allow_nan=True)
        except (TypeError, ValueError) as error:
            text = json.dumps({"error": "the answer was not plain data: " + _plain_error(error)})
        answers.write(text + "\n")
        answers.flush()
