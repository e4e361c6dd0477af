"""Judge one submission: the questions, in an order no answer can profit from.

The grader (this process) draws every input from the course's secret
(``autograder.judge.secret``), computes every expected answer itself with
miniflow's reference, and asks the judge (``autograder.judge.process``) for
the student's answers, one question at a time. Questions about exercises
that need nothing of the grader's come first; then, test by test, the
grader's versions of earlier exercises (``autograder.judge.plans.TEST_USES``) are
loaded just before the first question that builds on them, after every
question they could have answered.

A test's verdict is its first failure. When the test's questions name checks
(``autograder.judge.plans.Probe.checks``), its remaining questions (and its
follow-up questions, ``Probe.follow_up``) are still asked, within its turn,
to settle each check's outcome for the class report; they never change the
verdict, and a judge that dies on one is restarted without counting against
the notebook.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from autograder.core.mistakes import Mistake
from autograder.core.results import CHECK_PASSED
from autograder.judge.code import definitions
from autograder.judge.library import judge_library
from autograder.judge.process import CHILD, JudgeDied, JudgeProcess
from autograder.judge.secret import seeds_for
from autograder.judge.verdict import Verdict

__all__ = ["judge_notebook", "judge_program", "submission_seeds", "warm_up"]

MAX_RESTARTS = 3
BUILTIN_ERRORS = frozenset(name for name, value in vars(builtins).items()
                           if isinstance(value, type) and issubclass(value, BaseException))
WHERE = re.compile(r"<cell (\d+)>, line (\d+)")


def judge_program(kinds: list[str]) -> str:
    """The judge's program: ``child.py`` and the runners of ``kinds``, as source."""
    from autograder.judge import runners

    parts = [CHILD.read_text(encoding="utf-8")]
    parts += [runners.shippable(getattr(runners, name)) for name in runners.HELPERS]
    parts += [runners.shippable(runners.RUNNERS[kind]) for kind in sorted(set(kinds))]
    parts.append("RUNNERS = {" + ", ".join(
        f"{kind!r}: {runners.RUNNERS[kind].__name__}" for kind in sorted(set(kinds))) + "}")
    return "\n\n".join(parts) + "\n"


def warm_up(assignment: str) -> None:
    """What judging an assignment does once per process: the plan's reference answers'
    imports, the judge's program and its copy of miniflow."""
    from autograder.judge.plans import plan_for

    probes = plan_for(assignment)
    judge_program([p.kind for p in probes])
    judge_library(assignment)


def submission_seeds(secret: bytes, assignment: str, student: str,
                     code: list[dict[str, Any]]) -> Callable[[int], int]:
    """Seeds for this submission: the secret, the student, and the code the judge runs.

    The same submission regraded gets the same questions; changed code gets
    new ones, so nothing learnt from one verdict answers the next.
    """
    digest = hashlib.sha256(json.dumps(code, sort_keys=True).encode()).hexdigest()[:32]
    return seeds_for(secret, assignment, f"{student}\0{digest}")


def _error_words(answer: dict[str, Any]) -> str:
    """The student's error, in the grader's words: a built-in exception's name and
    where it was raised; never the message text, which student code wrote."""
    text = str(answer.get("error", ""))
    name = text.split(":", 1)[0].strip()
    what = name if name in BUILTIN_ERRORS else "an exception of its own"
    where = WHERE.fullmatch(str(answer.get("where", "")))
    words = f"raised {what}" + (f" in cell {where[1]}" if where else "")
    if name == "FloatingPointError":
        words += (" (numpy overflowed, divided by zero or made a NaN on these large inputs: "
                  "compute it in a way that stays finite)")
    return words


def _error_mistake(answer: dict[str, Any]) -> Mistake:
    """``NOT_ATTEMPTED`` for the stub's ``NotImplementedError``, else ``RAISED``."""
    name = str(answer.get("error", "")).split(":", 1)[0].strip()
    return Mistake.NOT_ATTEMPTED if name == "NotImplementedError" else Mistake.RAISED


def _missing_words(name: str, failed: list[dict[str, Any]],
                   code: list[dict[str, Any]]) -> str:
    """Why ``name`` is missing: the statement meant to define it raised, if one did."""
    defines = re.compile(rf"(?:(?:async\s+)?def|class)\s+{re.escape(name)}\b|"
                         rf"^{re.escape(name)}\s*[:=]", re.MULTILINE)
    statements = {(c["cell"], n): text for c in code for n, text in enumerate(c["code"])}
    for failure in failed:
        text = statements.get((failure.get("cell"), failure.get("statement")), "")
        if defines.search(text):
            return (f"{name} is not defined: its definition in cell {failure['cell']} "
                    f"{_error_words({'error': failure.get('error', '')})} when the grader "
                    "ran it")
    return f"{name} is not defined (did its cell run without errors?)"


class _Judge:
    """A judge process that comes back after a death, with what it had loaded."""

    def __init__(self, program: str, library: dict[str, str], code: list[dict[str, Any]], *,
                 mode: str, limits: dict[str, int], timeout: float) -> None:
        self.code, self.loaded = code, {}  # grader module -> names
        self.process = JudgeProcess(program, library, mode=mode, limits=limits,
                                    timeout=timeout)
        self.restarts = 0
        self.failed: list[dict[str, Any]] = []

    def start(self) -> None:
        self.process.start()
        self.failed = self.process.request({"op": "define", "cells": self.code}).get(
            "failed", [])
        for module, names in self.loaded.items():
            self._load(module, names)

    def _load(self, module: str, names: dict[str, str]) -> None:
        import importlib

        source = inspect.getsource(importlib.import_module(module))
        self.process.request({"op": "grader", "module": module, "source": source,
                              "names": names})

    def load(self, wanted: list[str]) -> None:
        from autograder.judge.runners import GRADER_VERSIONS

        for name in wanted:
            module, attribute = GRADER_VERSIONS[name]
            if name in self.loaded.get(module, {}):
                continue
            self.loaded.setdefault(module, {})[name] = attribute
            self._load(module, {name: attribute})

    def restart(self, counted: bool = True) -> bool:
        """A fresh judge; False (none) once ``MAX_RESTARTS`` counted restarts were made."""
        self.process.stop()
        if counted:
            if self.restarts >= MAX_RESTARTS:
                return False
            self.restarts += 1
        self.start()
        return True


def _settle(outcomes: dict[str, str], names: Any, outcome: str) -> None:
    """Record ``outcome`` for each check in ``names`` that has not failed yet: a check
    passes when every question that feeds it answered, and answered it right, and keeps
    its first failure. An error in a question that feeds several checks (a backward's
    gradients) is none of theirs: they are settled by the questions that answered."""
    for name in filter(None, names):
        if outcomes.get(name, CHECK_PASSED) == CHECK_PASSED:
            outcomes[name] = str(outcome)


def judge_notebook(cells: list[Any], assignment: str, student: str, secret: bytes, *,
                   mode: str, limits: dict[str, int], timeout: float = 30.0
                   ) -> dict[str, Verdict]:
    """test cell -> the judge's verdict on the student's code in ``cells``."""
    from autograder.judge.compare import check_outcomes, compare
    from autograder.judge.plans import TEST_USES, plan_for

    code = definitions(cells)
    probes = plan_for(assignment, submission_seeds(secret, assignment, student, code))
    tests: list[str] = []
    for probe in probes:
        if probe.test not in tests:
            tests.append(probe.test)
    # First what builds on nothing of the grader's, then the rest, each in course order.
    tests.sort(key=lambda test: bool(TEST_USES.get(test)))
    verdicts: dict[str, Verdict] = {}
    if not tests:
        return verdicts
    judge = _Judge(judge_program([p.kind for p in probes]), judge_library(assignment), code,
                   mode=mode, limits=limits, timeout=timeout)
    alive = True  # False once the judge has died more often than it may
    try:
        try:
            judge.start()
        except JudgeDied as error:
            stopped = f"the grader could not run the notebook's code: {error}"
            return {t: Verdict(t, "stopped", stopped, Mistake.STOPPED) for t in tests}
        for test in tests:
            if not alive:
                verdicts[test] = Verdict(test, "stopped", "not checked: the notebook's code "
                                         f"stopped the grader's check {MAX_RESTARTS + 1} times",
                                         Mistake.STOPPED)
                continue
            asked = [p for p in probes if p.test == test]
            named = list(dict.fromkeys(name for p in asked for name in p.checks if name))
            outcomes: dict[str, str] = {}
            raised: dict[str, str] = {}  # a check's first error, when it has no outcome
            unasked = {name: sum(name in p.checks for p in asked) for name in named}
            died = False
            verdict = None
            asking = f"the grader's check of {test}"
            try:
                judge.load(TEST_USES.get(test, []))
                for probe in asked:
                    # After the verdict, the questions go on only to settle the checks
                    # (the verdict stays the first failure's); without checks, none do.
                    if verdict is not None and all(outcomes.get(name, CHECK_PASSED)
                                                   != CHECK_PASSED for name in named):
                        break
                    if probe.follow_up and verdict is None:
                        continue
                    asking = probe.describe
                    answer = judge.process.request({"op": "ask", "kind": probe.kind,
                                                    "name": probe.name, "spec": probe.spec})
                    for name in filter(None, probe.checks):
                        unasked[name] -= 1
                    if "error" in answer:
                        missing = str(answer["error"]).startswith("NameError: " + probe.name)
                        failed = Verdict(test, "missing", f"{probe.describe}: " + _missing_words(
                            probe.name, judge.failed, code), Mistake.MISSING) if missing else \
                            Verdict(test, "raised", f"{probe.describe}: {_error_words(answer)}",
                                    _error_mistake(answer))
                        if len(probe.checks) > 1:  # which gradient's code raised is unknown
                            for name in filter(None, probe.checks):
                                raised.setdefault(name, str(failed.mistake))
                        else:
                            _settle(outcomes, probe.checks, failed.mistake)
                        verdict = verdict or failed
                        if missing:
                            break
                        continue
                    want = probe.reference()
                    problem = compare(probe, answer, want)
                    for name, found in (check_outcomes(probe, answer, want, problem).items()
                                        if probe.checks else ()):
                        _settle(outcomes, (name,), found.mistake if found else CHECK_PASSED)
                    if problem and verdict is None:
                        verdict = Verdict(test, "wrong", f"{probe.describe}: {problem.words}",
                                          problem.mistake)
            except JudgeDied as error:
                # A death on a question asked only for the checks leaves the verdict as it
                # was, and is not counted against the notebook's restarts.
                counted, died = verdict is None, True
                if counted:
                    verdict = Verdict(test, "stopped", f"{asking}: the code under test stopped "
                                      f"the grader's check ({error}); look for exit(), "
                                      "os._exit() or a loop that never ends", Mistake.STOPPED)
                try:
                    alive = judge.restart(counted=counted)
                except JudgeDied:
                    alive = False
            verdict = verdict or Verdict(test, "passed")
            if named:
                # a check some of whose questions were not asked failed as the test did;
                # one whose every answer was an error, with the first error's code
                _settle(outcomes, [name for name in named if unasked[name]],
                        Mistake.STOPPED if died else verdict.mistake or CHECK_PASSED)
                for name in named:
                    outcomes.setdefault(name, raised.get(name, str(verdict.mistake)))
                verdict = dataclasses.replace(verdict, checks=tuple(
                    (name, outcomes[name]) for name in named))
            verdicts[test] = verdict
    finally:
        judge.process.stop()
    return verdicts
