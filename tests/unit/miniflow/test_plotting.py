"""The pictures the notebooks show: what is drawn, where, and what is rejected."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from miniflow import (  # noqa: E402
    MSE,
    Add,
    DummyGrad,
    Input,
    Mul,
    forward_and_backward,
    topological_sort,
)
from miniflow.plotting import (  # noqa: E402
    draw_graph,
    plot_decision_boundary,
    plot_loss,
    show_digits,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _example():
    x, y, z = Input("x"), Input("y"), Input("z")
    xy, xz = Mul(x, y, name="x*y"), Mul(x, z, name="x*z")
    f = Add(xy, xz, name="f")
    upstream = DummyGrad(f)
    graph = topological_sort({x: 3.0, y: 4.0, z: -5.0, upstream: 0.5})
    forward_and_backward(graph, output=upstream)
    return graph, (x, y, z, xy, xz, f)


def _texts(ax) -> dict[str, object]:
    return {t.get_gid()[5:]: t for t in ax.texts if (t.get_gid() or "").startswith("node:")}


def test_values_are_written_in_each_node():
    graph, _ = _example()
    texts = _texts(draw_graph(graph, show="value"))
    assert "-3" in texts["f"].get_text()
    assert "12" in texts["x*y"].get_text() and "Mul" in texts["x*y"].get_text()
    assert texts["x"].get_text().splitlines()[-1] == "3"


def test_gradients_and_shapes_can_be_shown_instead():
    graph, _ = _example()
    gradients = _texts(draw_graph(graph, show="gradient"))
    assert gradients["x"].get_text().endswith("grad -0.5")
    assert gradients["y"].get_text().endswith("grad 1.5")
    shapes = _texts(draw_graph(graph, show="shape"))
    assert shapes["f"].get_text().endswith("scalar")
    plain = _texts(draw_graph(graph, show="none"))
    assert plain["x"].get_text() == "x\nInput"


def test_inputs_are_drawn_left_of_their_consumers_and_edges_counted():
    graph, (x, y, z, xy, xz, f) = _example()
    ax = draw_graph(graph)
    where = {name: text.get_position()[0] for name, text in _texts(ax).items()}
    assert where["x"] < where["x*y"] < where["f"]
    assert where["z"] < where["x*z"]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 7  # x, y -> x*y; x, z -> x*z; both -> f; f -> DummyGrad
    assert "gradients" not in ax.get_title() and ax.get_title()


def test_loss_nodes_and_highlights_stand_out():
    x, y = Input("x"), Input("y")
    cost = MSE(y, x, name="cost")
    graph = topological_sort({x: np.ones(3), y: np.zeros(3)})
    ax = draw_graph(graph, highlight=x)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    colours = {to_hex(b.get_facecolor()) for b in boxes}
    assert len(colours) == 2, "inputs and the loss need different colours"
    widths = sorted(b.get_linewidth() for b in boxes)
    assert widths[-1] > widths[0], "the highlighted node has a thicker border"
    assert cost in graph


def test_repeated_input_is_one_edge_marked_twice():
    x = Input("x")
    Mul(x, x, name="square")
    ax = draw_graph(topological_sort({x: 2.0}))
    assert len([p for p in ax.patches if isinstance(p, FancyArrowPatch)]) == 1
    assert any(t.get_text() == "×2" for t in ax.texts)
    assert "square" in _texts(ax)


def test_a_single_output_node_is_enough():
    _, (_, _, _, _, _, f) = _example()
    names = set(_texts(draw_graph(f)))
    assert names == {"x", "y", "z", "x*y", "x*z", "f"}


def test_bad_show_option_names_the_allowed_ones():
    graph, _ = _example()
    with pytest.raises(ValueError, match="value, shape, gradient, none"):
        draw_graph(graph, show="values")


def test_loss_curve_starts_at_epoch_one_and_labels_its_axes():
    ax = plot_loss([3.0, 2.0, 1.5], validation=[3.2, 2.5, 2.0])
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[0].get_ydata(), [3.0, 2.0, 1.5])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss" and ax.get_title()
    assert ax.get_legend() is not None
    with pytest.raises(ValueError, match="empty"):
        plot_loss([])


def test_digit_grid_marks_wrong_predictions_in_red():
    images = np.random.default_rng(0).random((12, 64))
    labels = np.arange(12) % 10
    predictions = labels.copy()
    predictions[3] = 9
    figure = show_digits(images, labels, predictions, ncols=5)
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert len(shown) == 12
    assert shown[3].get_title() == "pred 9 / true 3"
    assert to_hex(shown[3].title.get_color()) == to_hex("red")
    assert to_hex(shown[0].title.get_color()) != to_hex("red")
    assert len(show_digits(images.reshape(12, 8, 8)).axes) >= 12
    with pytest.raises(ValueError, match="cannot be shown"):
        show_digits(np.zeros((3, 10)))


def test_decision_boundary_colours_the_plane_by_predicted_class():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    ax = plot_decision_boundary(lambda P: (P[:, 0] > 0).astype(int), X, y, resolution=50)
    assert ax.collections, "a filled contour"
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 40
    assert len(points) == 2, "one scatter per class"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "Decision boundary"
    # class scores and a single probability column are read too
    plot_decision_boundary(lambda P: np.column_stack([-P[:, 0], P[:, 0]]), X, y, resolution=20)
    plot_decision_boundary(lambda P: 1 / (1 + np.exp(-P[:, :1])), X, y, resolution=20)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_decision_boundary(lambda P: P, np.zeros((5, 3)), np.zeros(5))
