"""Pictures for the notebooks: graphs, loss curves, digits, decision boundaries.

Needs matplotlib, which ``import miniflow`` never loads; only
``import miniflow.plotting`` does. Every function draws on the axes it is
given (or new ones), gives the plot a title and labelled axes, and returns
what it drew on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from miniflow.nodes import Input, Node

__all__ = ["draw_graph", "plot_loss", "show_digits", "plot_decision_boundary"]

SHOW_OPTIONS = ("value", "shape", "gradient", "none")
COLOURS = {"input": "#dbe9f6", "op": "#fdf1d6", "loss": "#f9d5d3"}


def _collect(nodes: Node | Sequence[Node]) -> list[Node]:
    """The nodes to draw: a list as given, or everything feeding one output node."""
    if isinstance(nodes, Node):
        found: list[Node] = []
        stack = [nodes]
        while stack:
            node = stack.pop()
            if node not in found:
                found.append(node)
                stack.extend(reversed(node.inbound_nodes))
        return list(reversed(found))
    return list(nodes)


def _short(value: Any) -> str:
    if value is None:
        return "—"
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{float(array):.4g}"
    if array.size <= 4:
        return np.array2string(array.astype(float), precision=3, separator=", ",
                               suppress_small=True)
    return f"array {array.shape}"


def _detail(node: Node, show: str) -> str:
    if show == "value":
        return _short(node.value)
    if show == "shape":
        if node.value is None:
            return "—"
        shape = np.shape(node.value)
        return "scalar" if shape == () else str(shape)
    if show == "gradient":
        gradients = node.gradients if isinstance(node.gradients, dict) else {}
        gradient = gradients.get(node) if isinstance(node, Input) else None
        if gradient is None:
            gradient = node.upstream_gradient()
        return "grad " + _short(gradient)
    return ""


def _layers(nodes: list[Node]) -> dict[Node, int]:
    """Column of each node: the longest path from a node with no drawn inputs."""
    depth: dict[Node, int] = {}
    remaining = list(nodes)
    while remaining:
        progressed = False
        for node in list(remaining):
            inputs = [n for n in node.inbound_nodes if n in nodes]
            if all(n in depth for n in inputs):
                depth[node] = 1 + max((depth[n] for n in inputs), default=-1)
                remaining.remove(node)
                progressed = True
        if not progressed:  # a cycle: put the rest in one more column
            for node in remaining:
                depth[node] = 1 + max(depth.values(), default=-1)
            break
    # Sources (inputs, weights) sit just before their first consumer, so that
    # W2 and b2 of a second layer are drawn beside it, not beside X.
    for node in nodes:
        consumers = [depth[n] for n in node.outbound_nodes if n in depth]
        if not [n for n in node.inbound_nodes if n in nodes] and consumers:
            depth[node] = min(consumers) - 1
    return depth


def _columns(nodes: list[Node], depth: dict[Node, int]
             ) -> tuple[dict[int, list[Any]], dict[tuple[int, int], list[Any]]]:
    """Each column's members, top to bottom, and the route of every long edge.

    An edge that skips columns gets a slot (a placeholder the size of a box) in
    each column in between, as in Sugiyama's layered drawing (the method behind
    Graphviz's dot). Each column after the first is then sorted by the mean row
    of what feeds it, which keeps most edges from crossing.
    """
    columns: dict[int, list[Any]] = {}
    for node in nodes:
        columns.setdefault(depth[node], []).append(node)
    routes: dict[tuple[int, int], list[Any]] = {}
    feeds: dict[Any, list[Any]] = {}  # what feeds each member from the column before
    for node in nodes:
        for source in dict.fromkeys(n for n in node.inbound_nodes if n in depth):
            previous = source
            slots = []
            for column in range(depth[source] + 1, depth[node]):
                slot = ("slot", id(source), id(node), column)
                columns.setdefault(column, []).append(slot)
                feeds[slot] = [previous]
                slots.append(slot)
                previous = slot
            routes[(id(source), id(node))] = slots
            feeds.setdefault(node, []).append(previous)
    ordered: dict[int, list[Any]] = {}
    for column in sorted(columns):
        members = columns[column]
        before = {item: row for row, item in enumerate(ordered.get(column - 1, []))}

        def key(item: Any, members: list[Any] = members,
                before: dict[Any, int] = before) -> float:
            rows = [before[f] for f in feeds.get(item, []) if f in before]
            return sum(rows) / len(rows) if rows else members.index(item)

        ordered[column] = sorted(members, key=key)
    return ordered, routes


def draw_graph(nodes: Node | Sequence[Node], *, show: str = "value", title: str | None = None,
               ax: Any = None, highlight: Node | Sequence[Node] | None = None) -> Any:
    """Draw a computation graph left to right, with each node's value, shape or gradient.

    ``nodes`` is a list of nodes (such as ``topological_sort``'s result) or a
    single output node. Inputs, operations and losses get different colours.
    """
    if show not in SHOW_OPTIONS:
        raise ValueError(f"show={show!r} is not an option; use one of {', '.join(SHOW_OPTIONS)}")
    drawn = _collect(nodes)
    if not drawn:
        raise ValueError("draw_graph needs at least one node")
    marked = [highlight] if isinstance(highlight, Node) else list(highlight or [])
    depth = _layers(drawn)
    columns, routes = _columns(drawn, depth)
    height = max(len(c) for c in columns.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4 * len(columns) + 1, 1.3 * height + 1))
    position: dict[Any, tuple[float, float]] = {}
    for column, members in columns.items():
        for row, item in enumerate(members):
            # Centre each column vertically; rows one unit apart.
            position[item] = (column * 2.4, (len(members) - 1) / 2 - row)
    box_w, box_h = 1.5, 0.8
    for node in drawn:
        x, y = position[node]
        kind = "loss" if node.is_loss else "input" if not node.inbound_nodes else "op"
        label = node.name if node.name == type(node).__name__ else (
            f"{node.name}\n{type(node).__name__}")
        detail = _detail(node, show)
        text = f"{label}\n{detail}" if detail else label
        edge = "#d62728" if node in marked else "#555555"
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.05", facecolor=COLOURS[kind],
                                    edgecolor=edge, linewidth=3 if node in marked else 1))
        longest = max(len(line) for line in text.splitlines())
        ax.text(x, y, text, ha="center", va="center", gid=f"node:{node.name}",
                fontsize=8 if longest <= 16 else max(5.0, 8 * 16 / longest))
    for node in drawn:
        seen: list[Node] = []
        for source in node.inbound_nodes:
            if source not in position or source in seen:
                continue
            seen.append(source)
            (x0, y0), (x1, y1) = position[source], position[node]
            # An edge that skips columns runs through a free slot of each column
            # it crosses, so it never passes over a box.
            points = [(x0 + box_w / 2 + 0.05, y0)]
            for slot in routes.get((id(source), id(node)), []):
                xs, ys = position[slot]
                points += [(xs - box_w / 2, ys), (xs + box_w / 2, ys)]
            points.append((x1 - box_w / 2 - 0.05, y1))
            arrow = FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=12,
                                    color="#555555", gid="edge")
            ax.add_patch(arrow)
            uses = sum(1 for n in node.inbound_nodes if n is source)
            if uses > 1:
                (xa, ya), (xb, yb) = points[0], points[1]
                ax.text((xa + xb) / 2, (ya + yb) / 2 + 0.12, f"×{uses}", ha="center",
                        fontsize=8, color="#555555")
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - box_w, max(xs) + box_w)
    ax.set_ylim(min(ys) - box_h, max(ys) + box_h)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    shown = {"value": "values", "shape": "shapes", "gradient": "gradients of the loss",
             "none": ""}[show]
    ax.set_title(title or ("Computation graph" + (f": {shown}" if shown else "")))
    return ax


def plot_loss(history: Sequence[float], *, ax: Any = None, title: str = "Training loss",
              xlabel: str = "epoch", ylabel: str = "loss", label: str | None = None,
              validation: Sequence[float] | None = None, log: bool = False) -> Any:
    """The loss per epoch (epochs counted from 1), optionally with a validation curve."""
    history = list(history)
    if not history:
        raise ValueError("plot_loss needs at least one loss value; the history is empty")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history) + 1)
    ax.plot(epochs, history, marker="o" if len(history) < 30 else None,
            label=label or ("training" if validation is not None else None))
    if validation is not None:
        ax.plot(np.arange(1, len(validation) + 1), list(validation), label="validation")
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs (or steps): no 2.5
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if label or validation is not None:
        ax.legend()
    return ax


def _as_images(images: Any) -> np.ndarray:
    array = np.asarray(images, dtype=float)
    if array.ndim == 3 and array.shape[1] == array.shape[2]:
        return array
    if array.ndim == 2:
        side = int(round(np.sqrt(array.shape[1])))
        if side * side == array.shape[1]:
            return array.reshape(len(array), side, side)
    raise ValueError(f"images of shape {array.shape} cannot be shown: give (n, 64) or (n, 8, 8) "
                     "digits, (n, 784) or (n, 28, 28) MNIST images, or any (n, side*side)")


def show_digits(images: Any, labels: Any = None, predictions: Any = None, *, ncols: int = 10,
                max_images: int = 50, title: str | None = None) -> Any:
    """A grid of greyscale images; with predictions, wrong ones are titled in red."""
    pictures = _as_images(images)[:max_images]
    count = len(pictures)
    if count == 0:
        raise ValueError("show_digits needs at least one image")
    ncols = max(1, min(ncols, count))
    nrows = -(-count // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.3 * nrows + 0.4),
                                squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= count:
            ax.set_visible(False)
            continue
        ax.imshow(pictures[index], cmap="gray_r", interpolation="nearest")
        if predictions is not None and labels is not None:
            right = int(predictions[index]) == int(labels[index])
            ax.set_title(f"pred {int(predictions[index])} / true {int(labels[index])}",
                         fontsize=7, color="green" if right else "red")
        elif labels is not None:
            ax.set_title(str(int(labels[index])), fontsize=9)
        elif predictions is not None:
            ax.set_title(f"pred {int(predictions[index])}", fontsize=8)
    figure.suptitle(title or f"{count} image{'s' if count != 1 else ''}")
    figure.tight_layout()
    return figure


def plot_decision_boundary(predict: Callable[[np.ndarray], Any], X: Any, y: Any, *,
                           ax: Any = None, resolution: int = 200,
                           title: str = "Decision boundary", padding: float = 0.5) -> Any:
    """Colour the plane by the class ``predict`` gives each point; scatter the data on top.

    ``predict`` maps an (m, 2) array to labels (m,), class scores (m, k), or a
    single column read as the probability of class 1.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) to draw a boundary in the plane, got "
                         f"{X.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    xs = np.linspace(X[:, 0].min() - padding, X[:, 0].max() + padding, resolution)
    ys = np.linspace(X[:, 1].min() - padding, X[:, 1].max() + padding, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    scores = np.asarray(predict(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.argmax(axis=1)
    elif scores.ndim == 2 or not np.issubdtype(scores.dtype, np.integer):
        classes = (scores.reshape(-1) >= 0.5).astype(int)
    else:
        classes = scores.reshape(-1)
    labels = np.unique(np.concatenate([np.unique(y), np.unique(classes)])).astype(int)
    levels = np.arange(labels.min() - 0.5, labels.max() + 1.5)
    ax.contourf(grid_x, grid_y, classes.reshape(grid_x.shape), levels=levels, cmap="coolwarm",
                alpha=0.3)
    for label in np.unique(y):
        rows = y == label
        ax.scatter(X[rows, 0], X[rows, 1], s=14, edgecolor="k", linewidth=0.3,
                   label=f"class {int(label)}")
    ax.set_title(title)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.legend(loc="best", fontsize=8)
    return ax
