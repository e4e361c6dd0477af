"""Cheats that wrong code in any assignment might try, written as a student would.

``python -m autograder selfcheck`` grades each of them on top of a mutant of every
assignment (a known-wrong implementation): none may score more than the mutant
alone. ``tests/test_cheating.py`` grades them, and cheats aimed at one exercise,
against a wrong ``Linear`` and ``Sigmoid``. Each is one notebook cell, added after
the setup cell.

Unlike the mutants, the cheats stay whole sources: each is a cell of its own,
added to the notebook, not an edit of a solution cell, so there is no
solution text for it to be a patch of (and none it could drift from).
"""

from __future__ import annotations

__all__ = ["CHEATS"]

CHEATS: dict[str, str] = {
    "checks_replaced_in_sys_modules": '''
import sys, types
import autograder.checks as real
fake = types.ModuleType("autograder.checks")
for name in dir(real):
    setattr(fake, name, lambda *args, **kwargs: None)
sys.modules["autograder.checks"] = fake
import autograder
autograder.checks = fake
np.testing.assert_allclose = lambda *args, **kwargs: None
''',
    "import_hook_returns_fake_checks": '''
import builtins, types
fake = types.ModuleType("checks")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
real_import = builtins.__import__
def sneaky_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = real_import(name, globals, locals, fromlist, level)
    if name == "autograder" and fromlist and "checks" in fromlist:
        return types.SimpleNamespace(checks=fake)
    return module
builtins.__import__ = sneaky_import
np.testing.assert_allclose = lambda *args, **kwargs: None
''',
    "input_transformer_empties_tests": '''
def skip_tests(lines):
    text = "".join(lines)
    if "assert" in text or "checks" in text:
        return ["pass\\n"]
    return lines
get_ipython().input_transformers_cleanup.append(skip_tests)
''',
    "custom_exception_handler_swallows_failures": '''
def swallow(shell, etype, value, tb, tb_offset=None):
    shell.last_execution_succeeded = True
    return None
get_ipython().set_custom_exc((BaseException,), swallow)
''',
    "trace_rewrites_the_checks_locals": '''
import ctypes, sys
def tracer(frame, event, arg):
    if frame.f_code.co_name in ("assert_close", "assert_allclose", "allclose"):
        if "expected_array" in frame.f_locals and "got_array" in frame.f_locals:
            frame.f_locals["got_array"] = frame.f_locals["expected_array"]
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
        return tracer
    return tracer
sys.settrace(tracer)
''',
    "numpy_comparisons_always_pass": '''
always = lambda *args, **kwargs: True
nothing = lambda *args, **kwargs: None
np.allclose = np.isclose = np.array_equal = np.array_equiv = always
for name in dir(np.testing):
    if name.startswith("assert"):
        setattr(np.testing, name, nothing)
''',
    "checks_patched_and_the_guard_blinded": '''
import sys
import autograder.checks as checks
import autograder.guard as guard
clean = guard._state()  # what the guard saw before anything changed
for name in dir(checks):
    if name.startswith(("check_", "assert_")) or name == "defined_in_notebook":
        setattr(checks, name, lambda *args, **kwargs: None)
for module in [m for n, m in sys.modules.items() if n.startswith("autograder.checks")]:
    for name in ("_allclose", "_isclose", "_array_equal"):  # in every checks module
        if hasattr(module, name):
            setattr(module, name, lambda *a, **k: True)
np.testing.assert_allclose = lambda *args, **kwargs: None
guard._state = lambda: clean  # and what it will keep seeing
''',
    "init_subclass_hook_swaps_in_the_reference": '''
def borrow(cls, **kwargs):
    reference = getattr(mf, cls.__name__, None)
    if reference is not None and reference is not cls:
        for method in ("forward", "backward"):
            setattr(cls, method, getattr(reference, method))
Node.__init_subclass__ = classmethod(borrow)
''',
}
