"""Mutants are (old, new) patches of their solution cell (issue 30), applied when loaded.

No kernel runs here: these tests apply patches to text, and every mutant of the
library to its solution cell of the source notebook.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.author.mutants import Mutant, MutantError, load_mutants, solution_code
from autograder.core.manifest import load_manifest

COURSE = load_manifest()

CELL = '''class Scale(Node):
    """Multiply by a constant."""

    def forward(self):
        ### BEGIN SOLUTION
        x = self.inbound_nodes[0].value  # the input
        # times the factor
        self.value = x * self.factor
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * self.factor
        print("# not a comment")
        ### END SOLUTION'''

CODE = '''class Scale(Node):
    def forward(self):
        x = self.inbound_nodes[0].value
        self.value = x * self.factor

    def backward(self):
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * self.factor
        print("# not a comment")'''


def test_a_mutant_edits_the_code_without_markers_docstrings_and_comments():
    assert solution_code(CELL) == CODE


def test_one_line_text_is_replaced_within_its_line():
    mutant = Mutant("scale", "forgets the factor", [("x * self.factor", "x")])
    assert mutant.apply(CELL) == CODE.replace("self.value = x * self.factor", "self.value = x")


def test_a_block_stands_for_whole_lines_at_any_indentation():
    mutant = Mutant("scale", "overwrites", [('''
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * self.factor
    ''', '''
        for consumer in self.outbound_nodes:
            self.gradients[x] = consumer.gradients[self] * self.factor
        return
    ''')])
    assert mutant.apply(CELL).endswith(
        "        for consumer in self.outbound_nodes:\n"
        "            self.gradients[x] = consumer.gradients[self] * self.factor\n"
        "        return\n"
        '        print("# not a comment")')


def test_a_block_keeps_its_indentation_relative_to_old_and_an_empty_new_deletes():
    moved = Mutant("scale", "one step after the loop", [('''
            self.gradients[x] += consumer.gradients[self] * self.factor
    ''', '''
        self.gradients[x] += consumer.gradients[self] * self.factor
    ''')])
    assert "\n        self.gradients[x] +=" in moved.apply(CELL)
    deleted = Mutant("scale", "prints nothing", [('''
        print("# not a comment")
    ''', "")])
    assert deleted.apply(CELL) == CODE.rsplit("\n", 1)[0]


def test_a_line_of_dots_in_a_block_stands_for_the_lines_between():
    rewritten = Mutant("scale", "no loop", [('''
        for consumer in self.outbound_nodes:
            ...
        print("# not a comment")
    ''', '''
        pass
    ''')])
    assert rewritten.apply(CELL) == CODE.split("\n        for consumer")[0] + "\n        pass"
    with pytest.raises(MutantError, match="starts or ends with '...'"):
        Mutant("scale", "dots first", [("\n...\nprint(1)\n", "\npass\n")])


def test_patches_apply_in_order_each_to_what_the_ones_before_left():
    mutant = Mutant("scale", "twice", [("x * self.factor", "x * 2"), ("x * 2", "x * 3")])
    assert "self.value = x * 3" in mutant.apply(CELL)


def test_old_text_that_is_missing_or_ambiguous_is_a_clear_error():
    missing = Mutant("scale", "a typo in old", [("x * self.factr", "x")])
    with pytest.raises(MutantError) as error:
        missing.apply(CELL)
    message = str(error.value)
    assert "scale: a typo in old" in message and "'x * self.factr'" in message
    assert "is not in solution cell 'scale'" in message
    ambiguous = Mutant("scale", "too little context", [("self.factor", "2")])
    with pytest.raises(MutantError, match=r"'self.factor' occurs 2 times in solution cell "
                                          r"'scale' \(give it more context\)"):
        ambiguous.apply(CELL)
    a_comment = Mutant("scale", "edits a comment", [("# times the factor", "# doubles")])
    with pytest.raises(MutantError, match="without its solution markers, docstrings and"):
        a_comment.apply(CELL)


@pytest.mark.parametrize("patches, says", [
    ([], "no patches"),
    ("x", "must be an \\(old, new\\) pair"),
    ([("x * self.factor",)], "must be an \\(old, new\\) pair"),
    ([("  ", "x")], "old text is empty"),
    ([("x * self.factor", "x\ny")], "its new text must be one line too"),
])
def test_a_patch_that_cannot_be_one_is_refused_when_written(patches, says):
    with pytest.raises(MutantError, match=says):
        Mutant("scale", "wrong", patches)


def test_a_mutant_has_its_source_once_bound_to_its_solution_cell():
    mutant = Mutant("scale", "forgets the factor", [("x * self.factor", "x")])
    with pytest.raises(MutantError, match="not bound to its solution cell"):
        mutant.source  # noqa: B018
    assert mutant.bound(CELL).source == mutant.apply(CELL)
    assert mutant.bound(CELL) == mutant  # the same mutant, its source aside


def test_a_mutant_of_a_cell_the_notebook_lacks_is_named():
    notebook = nbformat.v4.new_notebook()
    with pytest.raises(MutantError, match="01_graphs's solution notebook has no solution cell"):
        load_mutants("01_graphs", notebook)


@pytest.mark.parametrize("assignment", COURSE.assignments, ids=lambda a: a.name)
def test_every_mutant_of_the_library_is_an_edit_of_its_solution_cell(assignment):
    path = COURSE.root / "source" / assignment.name / assignment.notebook_file
    notebook = nbformat.read(path, as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    mutants = load_mutants(assignment.name, notebook)
    assert mutants, f"{assignment.name} has no mutants"
    assert [m.source for m in mutants] == [m.source for m in load_mutants(assignment.name)]
    for mutant in mutants:
        assert mutant.source == mutant.apply(cells[mutant.cell])
        assert mutant.source != solution_code(cells[mutant.cell]), f"{mutant.name} changes nothing"
        compile(mutant.source, mutant.name, "exec")
