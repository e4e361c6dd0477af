"""What a regrade says it changed (``regrade_changes``): old -> new, per submission."""

from __future__ import annotations

from autograder.core.results import GradeResult
from autograder.pipeline.console import regrade_changes


def _result(student: str, score: float, status: str = "graded") -> GradeResult:
    return GradeResult(student, "01_graphs", status, score=score, max_score=10.0)


def test_a_regrade_names_each_submission_whose_grade_changed_old_to_new():
    before = {("01_graphs", "ada"): _result("ada", 4), ("01_graphs", "ben"): _result("ben", 10),
              ("01_graphs", "cal"): _result("cal", 0, "rejected")}
    now = [_result("ada", 7), _result("ben", 10), _result("cal", 3), _result("dee", 10)]
    lines = regrade_changes(before, now)
    assert lines[0] == "regraded: 3 submission(s) had a grade before; 2 changed:"
    assert len(lines) == 3
    assert lines[1].split() == ["ada", "01_graphs", "changed:", "4/10", "\N{RIGHTWARDS ARROW}",
                                "7/10"]
    assert "0/10 (rejected) \N{RIGHTWARDS ARROW} 3/10" in lines[2]
    assert not any("ben" in line or "dee" in line for line in lines)


def test_nothing_graded_before_says_nothing_and_an_unchanged_regrade_says_so():
    assert regrade_changes({}, [_result("ada", 7)]) == []
    same = regrade_changes({("01_graphs", "ada"): _result("ada", 7)}, [_result("ada", 7)])
    assert same == ["regraded: 1 submission(s) had a grade before; none changed"]


def test_a_student_chosen_name_reaches_the_terminal_as_plain_text():
    evil = "eve\x1b[2J"
    lines = regrade_changes({("01_graphs", evil): _result(evil, 1)}, [_result(evil, 2)])
    assert "\x1b" not in "".join(lines)
