"""A visible test names the likely mistake too, not only the hidden one.

A student whose visible test fails never sees the hidden test's message, so
every mistake the checks recognise (``checks.known_mistakes``) must be named by
the visible part of its test cell. Each case runs, in this process, the
solution notebook up to the test cell with a mutant (a realistic wrong answer
from ``autograder/mutants``) in place, then the test cell's visible part only.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.execute.direct import split_hidden

COURSE = load_manifest()

# (assignment, test cell, mutant (cell: description), what the visible failure must say)
CASES = [
    ("02_layers", "test_linear_backward", "linear: dX = G @ W (missing transpose)",
     "missing a transpose"),
    ("02_layers", "test_linear_backward", "linear: ignores the upstream gradient",
     "the upstream gradient is ignored"),
    ("02_layers", "test_sigmoid_backward", "sigmoid: derivative from the input: x * (1 - x)",
     "computed from the input x"),
    ("02_layers", "test_sigmoid_backward", "sigmoid: ignores the upstream gradient",
     "the upstream gradient is ignored"),
    ("03_losses", "test_mse_forward", "mse: no reshape: (m,) minus (m, 1) broadcasts to (m, m)",
     "broadcast to an (m, m) matrix"),
    ("03_losses", "test_mse_backward", "mse: missing the factor 2", "the factor 2"),
    ("03_losses", "test_mse_backward",
     "mse: loops over consumers like a layer: a loss has none, gradients stay zero",
     "its upstream gradient is dL/dL = 1"),
    ("03_losses", "test_cross_entropy_backward",
     "cross_entropy: forgets the one-hot: gradient softmax / N",
     "the gradient is the softmax alone"),
    # Shapes that do not fit: the error names the rule before any comparison can.
    ("06_autograd", "test_tensor_backward", "tensor: matmul gradient without the transposes",
     "a transpose is missing or misplaced"),
    ("06_autograd", "test_tensor_backward", "tensor: sigmoid derivative from the input instead of "
     "the output", "the derivative is taken from the input"),
    # Issue 31: a diagnosis where a bare comparison showed only numbers.
    ("01_graphs", "test_chain_rule", "chain_rule: forgets the second path through x (only dx = "
     "g*y)", "follows only one path"),
    ("01_graphs", "test_chain_rule", "chain_rule: ignores the upstream gradient",
     "the upstream gradient was not multiplied in"),
    ("01_graphs", "test_mul_backward", "mul: ignores the upstream gradient",
     "upstream gradient was not multiplied in"),
    ("01_graphs", "test_mul_backward", "mul: forgets to unbroadcast", "summed"),
    ("01_graphs", "test_mul_backward", "mul: divides the product by the input (fails at zero)",
     "divided by that input"),
    ("02_layers", "test_linear_backward", "linear: dW = G^T X (transposed, shape (n_out, n_in))",
     "a transposed product"),
    ("02_layers", "test_linear_backward",
     "linear: bias gradient averaged over the batch instead of summed",
     "(the batch size) times too small"),
    ("03_losses", "test_cross_entropy_backward",
     "cross_entropy: gradient divided by every entry (N * classes), not by N",
     "(the number of classes) times too small"),
    ("04_training", "test_sgd_update", "sgd_update: rebinds a local name, so the node never "
     "changes", "still the value from before the step"),
    ("04_training", "test_sgd_update", "sgd_update: adds the gradient (walks uphill)",
     "the opposite direction"),
    ("04_training", "test_train_epoch", "train_epoch: shuffles X and y with two different "
     "permutations", "X and y were shuffled differently"),
    ("05_digits", "test_build_network", "build_network: W2 scaled by the first layer's size "
     "(1/sqrt(n_inputs))", "scaled by the wrong layer's size"),
    ("05_digits", "test_predict", "predict: feeds dummy labels and runs the whole graph, loss "
     "included", "predict set network.labels"),
    ("06_autograd", "test_backpropagate", "backpropagation: backward in forward order (not "
     "reversed)", "ran before the one"),
    ("06_autograd", "test_two_layer_loss", "training: the hidden layer computed on .data (numpy) "
     "cuts the graph", "the graph was cut"),
    # Issue 31's measure: mutants whose visible failure showed only numbers.
    ("01_graphs", "test_chain_rule", "chain_rule: swaps the partials of x and y",
     "the right numbers in the wrong places"),
    ("02_layers", "test_linear_forward", "linear: forward forgets the bias",
     "off by the same amounts in every row"),
    ("02_layers", "test_sigmoid_forward", "sigmoid: forward stores the input instead of its "
     "sigmoid", "the operation was not applied"),
    ("02_layers", "test_sigmoid_backward", "sigmoid: forgets the (1 - s) factor",
     "missing one of its two factors"),
    ("02_layers", "test_sigmoid_backward", "sigmoid: derivative s * (1 - x) mixes output and "
     "input", "mixes the output and the input"),
    ("03_losses", "test_cross_entropy_backward", "cross_entropy: subtracts 1 from whole "
     "columns: grad[:, labels] -= 1", "taken off whole columns"),
    ("04_training", "test_sgd_update", "sgd_update: hard-codes the default learning rate",
     "not the learning rate it was given"),
    ("06_autograd", "test_tensor_forward", "tensor: sigmoid with the wrong sign, 1 / (1 + e^x)",
     "1 minus the right value"),
    ("01_graphs", "test_chain_rule", "chain_rule: hard-codes the worked example",
     "the worked example's, whatever the inputs"),
    ("01_graphs", "test_mul_forward", "mul: only handles two inputs",
     "Only the first two of 3 inputs were used"),
]

# Hints that named the wrong cause (issue 31): what these failures must never say.
WRONG_HINTS = [
    ("01_graphs", "test_mul_backward", "mul: divides the product by the input (fails at zero)",
     "stably"),
    ("06_autograd", "test_backpropagate", "backpropagation: backward in forward order (not "
     "reversed)", "seeded"),
]

#: nbgrader validate on the command line cuts a line at about 90 characters.
FIRST_LINE = 90


def _visible_failure(assignment_name: str, test_cell: str, mutant_name: str) -> str:
    """The message of the visible part of ``test_cell`` with the mutant in place."""
    assignment = COURSE.assignment(assignment_name)
    mutant = next(m for m in load_mutants(assignment_name)
                  if m.name == mutant_name)
    notebook = nbformat.read(COURSE.root / "source" / assignment.name / assignment.notebook_file,
                             as_version=4)
    namespace: dict = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta.get("grade") and meta.get("grade_id") != test_cell):
            continue  # other test cells: not what a student runs to reach this one
        if meta.get("grade_id") == test_cell:
            visible, _ = split_hidden(cell.source)
            try:
                exec(compile(visible, f"<{test_cell} (visible part)>", "exec"), namespace)
            except AssertionError as failure:
                return str(failure)
            return ""
        source = mutant.source if meta.get("grade_id") == mutant.cell else cell.source
        if source.lstrip().startswith("%"):
            continue  # IPython magics (%matplotlib inline) have no meaning here
        exec(compile(source, "<notebook cell>", "exec"), namespace)
    raise AssertionError(f"{test_cell} is not in {assignment.notebook_file}")


def _failure_in_folder(assignment: str, test_cell: str, mutant: str, monkeypatch) -> str:
    """``_visible_failure`` run in the assignment's folder, as the notebook runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(COURSE.root / "source" / assignment)
    try:
        return _visible_failure(assignment, test_cell, mutant)
    finally:
        plt.close("all")  # the notebooks draw figures; nobody looks at them here


@pytest.mark.parametrize("assignment, test_cell, mutant, hint", CASES,
                         ids=[f"{c[0]}-{c[2][:48]}" for c in CASES])
def test_the_visible_test_names_the_known_mistake(assignment, test_cell, mutant, hint,
                                                  monkeypatch):
    message = _failure_in_folder(assignment, test_cell, mutant, monkeypatch)
    assert message, f"the visible part of {test_cell} passed with the mutant {mutant!r}"
    assert hint in message, (
        f"the visible part of {test_cell} failed for {mutant!r} without naming the mistake; "
        f"it said:\n{message}")


@pytest.mark.parametrize("assignment, test_cell, mutant, wrong", WRONG_HINTS,
                         ids=[f"{c[0]}-{c[2][:48]}" for c in WRONG_HINTS])
def test_the_visible_test_does_not_name_a_wrong_cause(assignment, test_cell, mutant, wrong,
                                                      monkeypatch):
    message = _failure_in_folder(assignment, test_cell, mutant, monkeypatch)
    assert message and wrong not in message, message


@pytest.mark.parametrize("assignment, test_cell, mutant, hint", CASES[10:],
                         ids=[f"{c[0]}-{c[2][:48]}" for c in CASES[10:]])
def test_the_failure_s_first_line_fits_nbgrader_validate(assignment, test_cell, mutant, hint,
                                                         monkeypatch):
    """The cases of issue 31: the first line says what to fix, within 90 characters."""
    message = _failure_in_folder(assignment, test_cell, mutant, monkeypatch)
    first = message.splitlines()[0] if message else ""
    assert first and len(first) <= FIRST_LINE, f"first line of {len(first)} characters: {first}"
