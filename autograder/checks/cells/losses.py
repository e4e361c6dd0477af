"""The visible tests of 03_losses, one named check per test cell (course content).

Each function is the body of one test cell: the notebook passes in the code the
student wrote; ``Input``, ``value_and_grad`` and ``topological_sort`` are
miniflow's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow as mf
from autograder.checks.core import check_close, random_inputs
from autograder.checks.nodes import (
    check_backward,
    check_forward,
    check_forward_mistakes,
    check_gradient_shapes,
    check_known_mistakes,
    check_probability_rows,
    check_stable_forward,
    known_mistakes,
)
from miniflow import Input, topological_sort, value_and_grad

__all__ = ["test_mse_forward", "test_mse_backward", "test_cross_entropy_forward",
           "test_cross_entropy_backward"]

#: Every mix of a vector (m,) and a column (m, 1) for the targets and predictions, m = 5.
MIXES = [[(5,), (5,)], [(5, 1), (5, 1)], [(5,), (5, 1)], [(5, 1), (5,)]]
#: The worked examples: MSE of y = [1, 2, 3] and a = [4.5, 5, 10]; cross-entropy of
#: the logits [[0.5, 1, 1.5]] with true class 1.
Y, A = [1., 2., 3.], [4.5, 5., 10.]
LOGITS, LABELS = [[0.5, 1.0, 1.5]], [1]
MSE_NAMES, CE_NAMES = ["y", "a"], ["logits", "labels"]


def test_mse_forward(MSE: type) -> None:  # noqa: N803 (the student's class)
    """``MSE``'s forward pass: first, whether it is a mistake students often make
    (silent unless it is); then random targets and predictions, m = 5, in every mix
    of (m,) and (m, 1), against miniflow's; then the worked example, with the
    predictions as a vector and then as a column."""
    mistakes = known_mistakes("MSE.forward")
    for shapes in MIXES:
        check_forward_mistakes(MSE, mf.MSE, random_inputs(shapes, seed=900), mistakes,
                               names=MSE_NAMES)
    for shapes in MIXES:
        check_forward(MSE, mf.MSE, random_inputs(shapes, seed=900), names=MSE_NAMES,
                      batch_size=5)
    for a_shape in [(3,), (3, 1)]:
        y, a = Input("y"), Input("a")
        cost = MSE(y, a)
        feed = {y: np.array(Y), a: np.array(A).reshape(a_shape)}
        mf.forward_pass(cost, topological_sort(feed))
        check_close(f"MSE.value for the worked example, a of shape {a_shape}", cost.value,
                    23.416666666666668, batch_size=3)


def test_mse_backward(MSE: type) -> None:  # noqa: N803 (the student's class)
    """``MSE``'s backward pass: first, whether it is a mistake students often make
    (silent unless it is); then the gradients' shapes and values on random values,
    m = 5, in every mix of (m,) and (m, 1), against miniflow's; then the worked
    example, with the predictions as a vector and then as a column."""
    mistakes = known_mistakes("MSE.backward")
    for shapes in MIXES:
        check_known_mistakes(MSE, mf.MSE, random_inputs(shapes, seed=901), mistakes,
                             names=MSE_NAMES, loss=True)
    for shapes in MIXES:
        values = random_inputs(shapes, seed=901)
        check_gradient_shapes(MSE, values, names=MSE_NAMES, loss=True)
        check_backward(MSE, mf.MSE, values, names=MSE_NAMES, loss=True, batch_size=5)
    for a_shape in [(3,), (3, 1)]:
        y, a = Input("y"), Input("a")
        feed = {y: np.array(Y), a: np.array(A).reshape(a_shape)}
        _, (dy, da) = value_and_grad(MSE(y, a), feed, [y, a])
        check_close("dL/dy for the worked example", dy, [-7 / 3, -2., -14 / 3], batch_size=3)
        check_close(f"dL/da for the worked example, a of shape {a_shape}", da,
                    np.reshape([7 / 3, 2., 14 / 3], a_shape), batch_size=3)


def test_cross_entropy_forward(_softmax: Callable[[Any], Any],
                               CrossEntropyWithSoftmax: type) -> None:  # noqa: N803
    """``_softmax`` and ``CrossEntropyWithSoftmax``'s forward pass: a random batch of
    4 rows (so the mean matters), against miniflow's; then large logits: [1000,
    -1000, 0] with true class 1 costs exactly 2000, and each row needs its own
    maximum; then the worked example, logits [[0.5, 1, 1.5]] with true class 1."""
    rng = np.random.default_rng(900)
    logits_value, labels_value = rng.normal(size=(4, 3)) * 3, np.array([2, 0, 1, 1])
    check_probability_rows(_softmax, logits_value)
    check_forward(CrossEntropyWithSoftmax, mf.CrossEntropyWithSoftmax,
                  [logits_value, labels_value], names=CE_NAMES, batch_size=4, classes=3)
    for extreme in [[[1000., -1000., 0.]], [[0.5, 1.0, 1.5], [-1000., 0., 1000.]]]:
        check_stable_forward(CrossEntropyWithSoftmax, mf.CrossEntropyWithSoftmax,
                             [np.array(extreme), np.array([1, 0][:len(extreme)])],
                             names=CE_NAMES, batch_size=len(extreme))
    check_close("_softmax([[0.5, 1, 1.5]])", _softmax(np.array(LOGITS)),
                [[0.1863, 0.3072, 0.5065]], atol=1e-4)
    logits, labels = Input("logits"), Input("labels")
    cost = CrossEntropyWithSoftmax(logits, labels)
    mf.forward_pass(cost, topological_sort({logits: np.array(LOGITS),
                                            labels: np.array(LABELS)}))
    check_close("the loss of the worked example", cost.value, 1.1802, atol=1e-4, classes=3)


def test_cross_entropy_backward(CrossEntropyWithSoftmax: type) -> None:  # noqa: N803
    """``CrossEntropyWithSoftmax``'s backward pass: first, whether it is a mistake
    students often make (silent unless it is); then the gradients' shapes and values
    on a random batch of 4 rows, 3 classes, against miniflow's; then the worked
    example, logits [[0.5, 1, 1.5]] with true class 1."""
    values = [np.random.default_rng(901).normal(size=(4, 3)) * 2, np.array([2, 0, 1, 1])]
    check_known_mistakes(CrossEntropyWithSoftmax, mf.CrossEntropyWithSoftmax, values,
                         known_mistakes("CrossEntropyWithSoftmax.backward"),
                         names=CE_NAMES, wrt=[0], loss=True)
    check_gradient_shapes(CrossEntropyWithSoftmax, values, names=CE_NAMES, loss=True)
    check_backward(CrossEntropyWithSoftmax, mf.CrossEntropyWithSoftmax, values,
                   names=CE_NAMES, wrt=[0], loss=True, batch_size=4, classes=3)
    check_backward(CrossEntropyWithSoftmax, mf.CrossEntropyWithSoftmax, values,
                   names=CE_NAMES, wrt=[1], loss=True)
    logits, labels = Input("logits"), Input("labels")
    feed = {logits: np.array(LOGITS), labels: np.array(LABELS)}
    _, (dlogits, dlabels) = value_and_grad(CrossEntropyWithSoftmax(logits, labels), feed,
                                           [logits, labels])
    check_close("dL/dlogits for the worked example", dlogits, [[0.1863, -0.6928, 0.5065]],
                atol=1e-4, classes=3)
    check_close("dL/dlabels for the worked example", dlabels, [0.0])
