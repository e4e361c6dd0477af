"""The tamper guard's answer, checked in a fresh interpreter (it changes builtins and numpy).

``verify`` first compares identities (``guard._identities``) and only words
the changes with the full comparison (``_state``/``_changes``) when something
differs. These tests run a student's tampering, step by step, and check at
every step that ``verify`` says exactly what the full comparison says, that
the full comparison is not run while nothing changed, and that tampering
with what the fast comparison itself calls does not blind it.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r'''
import builtins, functools, json, sys, types
import numpy as np
import matplotlib.pyplot
import miniflow, miniflow.plotting
import autograder.checks
import autograder.kernel.guard as guard

full_runs = []
real_state = guard._state
def counted():
    full_runs.append(1)
    return real_state()
guard._state = counted              # captured by install: counts the full comparisons
guard.install("_guard_under_test")
guard._state = real_state
verify = builtins._guard_under_test
clean, changes = real_state(), guard._changes
steps = {}

def step(name, equal=True):
    runs = len(full_runs)
    said = verify()
    full = json.dumps(changes(clean, real_state())[:20]) if equal else "null"
    steps[name] = {"said": json.loads(said), "full": json.loads(full),
                   "full_runs": len(full_runs) - runs}

for number in range(3):
    step(f"clean {number}")
original = np.allclose
np.allclose = lambda *a, **k: True
step("allclose replaced")
np.allclose = original
step("allclose put back")
isclose = np.isclose
del np.isclose
np.isclose = functools.partial(isclose)  # works the same, and is another object
step("isclose deleted and made again")
np.isclose = isclose
step("isclose put back")
miniflow.nodes.Evil = type("Evil", (), {"forward": lambda self: None})
step("class added to a course module")
del miniflow.nodes.Evil
step("class removed again")
miniflow.nodes.Linear.__eq__ = lambda self, other: True
step("method added to a course class")
del miniflow.nodes.Linear.__eq__
step("method removed again")
linalg = sys.modules["numpy.linalg"]
sys.modules["numpy.linalg"] = types.ModuleType("numpy.linalg")
step("sys.modules entry replaced")
sys.modules["numpy.linalg"] = linalg
step("sys.modules entry put back")
sys.settrace(lambda *a: None)
step("trace function set")
sys.settrace(None)
step("trace function removed")
import miniflow.examples  # noqa: E402  (a submodule imported: no change the guard minds)
step("submodule imported")
step("after the submodule")
real_all, real_map = builtins.all, builtins.map
builtins.all = lambda iterable: True
builtins.map = lambda *a: iter(())
np.allclose = lambda *a, **k: True
step("all and map replaced, then allclose")
builtins.all, builtins.map = real_all, real_map
np.allclose = original
step("all, map and allclose put back")
guard._WATCHED_MODULES = ()
guard._identities = guard._state = guard._changes = None
np.allclose = lambda *a, **k: True
step("the guard module's names replaced, then allclose", equal=False)
print(json.dumps(steps))
'''


def test_verify_says_what_the_full_comparison_says_and_runs_it_only_on_a_change():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    steps = json.loads(run.stdout.strip().splitlines()[-1])
    for name, step in steps.items():
        if step["full"] is not None:
            assert step["said"] == step["full"], name
    for name in ("clean 0", "clean 1", "clean 2", "allclose put back", "isclose put back",
                 "class removed again", "method removed again", "sys.modules entry put back",
                 "trace function removed", "submodule imported", "after the submodule",
                 "all, map and allclose put back"):
        assert steps[name]["said"] == [], name
    # While nothing changed, identities answer; the full comparison is not run.
    for name in ("clean 0", "clean 1", "clean 2", "after the submodule"):
        assert steps[name]["full_runs"] == 0, name
    assert steps["submodule imported"]["full_runs"] == 1  # once, then it is the new clean
    assert steps["allclose replaced"]["said"] == ["numpy.allclose was replaced"]
    assert steps["allclose replaced"]["full_runs"] == 1
    assert steps["isclose deleted and made again"]["said"] == ["numpy.isclose was replaced"]
    assert "miniflow.nodes.Evil.forward was added" in \
        steps["class added to a course module"]["said"]
    assert "miniflow.nodes.Linear.__eq__ was added" in \
        steps["method added to a course class"]["said"]
    assert steps["sys.modules entry replaced"]["said"][0] == \
        "sys.modules['numpy.linalg'] was replaced"
    assert steps["trace function set"]["said"] == [
        "a trace or profile function is set (sys.settrace)"]
    blinded = steps["all and map replaced, then allclose"]["said"]
    assert "numpy.allclose was replaced" in blinded and "builtins.all was replaced" in blinded
    # Not blinded: the full comparison now reads the emptied list of modules, so it
    # calls every watched module replaced (the first 20 of its sentences are kept).
    tampered = steps["the guard module's names replaced, then allclose"]["said"]
    assert len(tampered) == 20 and "sys.modules['numpy'] was replaced" in tampered
