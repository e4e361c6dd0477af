"""Which submissions an nbgrader command's course directory takes (both plain-nbgrader hooks
ask the same rule: autograder/execute/exporter.py, autograder/publish/course_pages.py)."""

from types import SimpleNamespace

from autograder.core.nbgrader_cli import coursedir_selects


def _dir(assignment_id="01_graphs", student_id="*", student_id_exclude=""):
    return SimpleNamespace(assignment_id=assignment_id, student_id=student_id,
                           student_id_exclude=student_id_exclude)


def test_patterns_and_exclusions_decide():
    assert coursedir_selects(_dir(), "01_graphs", "ada")
    assert not coursedir_selects(_dir(), "02_layers", "ada")
    assert coursedir_selects(_dir(assignment_id="0*"), "02_layers", "ada")
    assert not coursedir_selects(_dir(student_id="b*"), "01_graphs", "ada")
    assert not coursedir_selects(_dir(student_id_exclude="ada,bob"), "01_graphs", "ada")
    assert coursedir_selects(_dir(student_id_exclude="ada,bob"), "01_graphs", "cy")


def test_an_unset_pattern_takes_everything():
    assert coursedir_selects(_dir(assignment_id="", student_id=""), "06_autograd", "zed")
