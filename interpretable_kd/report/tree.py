"""The soft decision tree drawn from its readable view: the diagram and, for image data,
each inner node's filter on the image grid. Part of :mod:`.whitebox` (its ``"soft_tree"``
drawings); reads only the view, never the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ..exceptions import InputError
from ._style import DIVERGING, class_colours, label, view_of
from ._style import new_figure as _figure
from ._style import styled as _styled

__all__ = ["MAX_TREE_LEVELS", "soft_tree_diagram", "tree_filters"]

MAX_TREE_LEVELS = 5  # inner levels drawn in the tree diagram


def _tree_parts(view: Mapping[str, Any]) -> dict[str, Any]:
    """What the diagram needs from a ``"soft_tree"`` view.

    Parameters
    ----------
    view : mapping
        ``node_weights`` (n_inner, n_features), ``node_biases`` (n_inner,),
        ``leaf_distributions`` (n_leaves, n_classes); optional ``node_reach`` (n_inner,),
        ``leaf_reach`` (n_leaves,) and ``feature_names``.

    Returns
    -------
    dict
        ``weights``, ``biases``, ``leaves``, ``depth`` (log2 n_leaves), ``n_inner``,
        ``reach`` and ``counts`` (float arrays or None), ``names``.
    """
    weights = np.asarray(view["node_weights"], dtype=float)
    n_inner = weights.shape[0]
    leaves = np.asarray(view["leaf_distributions"], dtype=float)
    n_leaves = leaves.shape[0]
    reach = view.get("node_reach")
    counts = view.get("leaf_reach")
    names = view.get("feature_names")
    return {
        "weights": weights,
        "biases": np.asarray(view["node_biases"], dtype=float),
        "leaves": leaves,
        "depth": round(math.log2(n_leaves)),
        "n_inner": n_inner,
        "reach": None if reach is None else np.asarray(reach, dtype=float),
        "counts": None if counts is None else np.asarray(counts, dtype=float),
        "names": [str(n) for n in names]
        if names is not None
        else [f"x{j}" for j in range(weights.shape[1])],
    }


def _signed(value: float) -> str:
    """``+1.23`` / ``−1.23`` with a typographic minus.

    Parameters
    ----------
    value : float
        The number.

    Returns
    -------
    str
        Two decimals, always signed.
    """
    return f"{value:+.2f}".replace("-", "−")


def soft_tree_diagram(
    result: Any, class_names: Sequence[str], feature_names: Sequence[str] | None = None
) -> Figure:
    """The soft tree drawn root-left: each inner node with its three largest effective
    weights, each leaf with its class distribution and training rows.

    A row goes to the lower child ("yes") with probability
    ``sigmoid(sum_j w_j x_j + b)``. Nodes and leaves that (almost) no training row
    reaches are drawn faded. Trees deeper than :data:`MAX_TREE_LEVELS` are drawn down to
    that depth.

    Parameters
    ----------
    result : StudentResult
        A student whose view is ``"soft_tree"`` (see :func:`_tree_parts`).
    class_names : sequence of str
        Display names of the classes.
    feature_names : sequence of str or None
        Display names of the features; default: the view's ``feature_names``.

    Returns
    -------
    Figure
        The diagram, root on the left.
    """
    parts = _tree_parts(view_of(result))
    names = list(feature_names) if feature_names is not None else parts["names"]
    depth = parts["depth"]
    levels = min(depth, MAX_TREE_LEVELS)
    full = levels == depth
    slots = 2**levels  # vertical slots: the leaves, or the deepest drawn nodes
    colours = class_colours(len(class_names))
    reach = parts["reach"]
    counts = parts["counts"]
    total = float(counts.sum()) if counts is not None else 0.0
    fig = _figure(10.5, max(4.5, 0.55 * slots + 1.3))
    with _styled(fig):
        ax = fig.subplots()
        ax.set_xlim(-0.05, levels + (1.55 if full else 0.95))
        ax.set_ylim(slots - 0.3, -0.9)
        ax.axis("off")

        def position(node: int) -> tuple[float, float]:
            """Where a node is drawn (heap order).

            Parameters
            ----------
            node : int
                Node index; its level is floor(log2(node + 1)).

            Returns
            -------
            tuple of float
                ``(level, vertical slot)``.
            """
            level = math.floor(math.log2(node + 1))
            index = node - (2**level - 1)
            return float(level), (index + 0.5) * slots / 2**level

        for node in range(2**levels - 1):
            level = math.floor(math.log2(node + 1))
            x, y = position(node)
            if level < levels - 1 or full:
                for side, child in (("no", 2 * node + 1), ("yes", 2 * node + 2)):
                    x1, y1 = position(child)
                    ax.plot([x + 0.04, x1], [y, y1], color="#8a96a3", linewidth=0.8, zorder=1)
                    ax.text(
                        x + 0.04 + 0.55 * (x1 - x - 0.04),
                        y + 0.55 * (y1 - y),
                        side,
                        fontsize=6.5,
                        color="#55606c",
                        ha="center",
                        va="center",
                        bbox={"fc": "white", "ec": "none", "pad": 0.3},
                        zorder=2,
                    )
            w = parts["weights"][node]
            order = np.argsort(-np.abs(w), kind="stable")[:3]
            faint = reach is not None and reach[node] < 0.01
            head = f"node {node}"
            if reach is not None:
                head += f" · {100 * reach[node]:.0f}% of rows"
            terms = "\n".join(f"{_signed(w[j])} {label(names[j], 24)}" for j in order)
            more = "+ … " if w.size > 3 else ""
            text = f"{head}\n{terms}\n{more}{_signed(parts['biases'][node])} > 0 → yes"
            ax.text(
                x,
                y,
                text,
                ha="left",
                va="center",
                fontsize=7,
                linespacing=1.25,
                color="#8a96a3" if faint else "#1d2430",
                bbox={
                    "boxstyle": "round,pad=0.4",
                    "fc": "#fafbfc" if faint else "#eef3f8",
                    "ec": "#c5ccd4" if faint else "#4a6a8a",
                    "lw": 0.8,
                },
                zorder=3,
            )
        if full:
            for leaf in range(2**depth):
                x, y = position(2**depth - 1 + leaf)
                dist = parts["leaves"][leaf]
                empty = counts is not None and counts[leaf] == 0
                alpha = 0.35 if empty else 1.0
                left = x
                for k, p in enumerate(dist):
                    ax.add_patch(
                        FancyBboxPatch(
                            (left, y - 0.2),
                            0.45 * p,
                            0.4,
                            boxstyle="square,pad=0",
                            fc=colours[k],
                            ec="none",
                            alpha=alpha,
                        )
                    )
                    left += 0.45 * p
                ax.add_patch(
                    FancyBboxPatch(
                        (x, y - 0.2),
                        0.45,
                        0.4,
                        boxstyle="square,pad=0",
                        fc="none",
                        ec="#333333",
                        lw=0.6,
                        alpha=alpha,
                    )
                )
                best = int(np.argmax(dist))
                info = f"leaf {leaf}: {label(class_names[best], 20)} {dist[best]:.2f}"
                if counts is not None and total > 0:
                    n = int(counts[leaf])
                    info += f"\n{n} row{'' if n == 1 else 's'} ({100 * n / total:.0f}%)"
                ax.text(
                    x + 0.5,
                    y,
                    info,
                    ha="left",
                    va="center",
                    fontsize=7,
                    color="#8a96a3" if empty else "#1d2430",
                )
            handles = [
                FancyBboxPatch((0, 0), 1, 1, fc=colours[k], ec="none")
                for k in range(len(class_names))
            ]
            ax.legend(
                handles,
                [label(c, 20) for c in class_names],
                loc="upper left",
                ncol=1 if len(class_names) <= 4 else 2,
                title="leaf class distribution",
                fontsize=7,
                title_fontsize=7,
            )
        shown = "" if full else f", first {levels} levels drawn"
        ax.set_title(
            f"{label(result.name, 30)}: soft decision tree of depth {depth}{shown} "
            "(rows: share of training rows whose most probable path passes there)",
            fontsize=9,
        )
    return fig


def tree_filters(result: Any, shape: Sequence[int]) -> Figure:
    """The inner nodes' effective filters drawn as images (image data only).

    Parameters
    ----------
    result : StudentResult
        A student whose view is ``"soft_tree"``, with ``node_filter_weights`` of shape
        (n_inner, n_features).
    shape : tuple of int
        The image grid; its product must be n_features (8 x 8 for scikit-learn's digits).

    Returns
    -------
    Figure
        One small image per inner node, in heap order.

    Raises
    ------
    InputError
        ``shape`` does not hold n_features pixels.
    """
    grid = tuple(int(s) for s in shape)
    weights = np.asarray(view_of(result)["node_filter_weights"], dtype=float)
    if math.prod(grid) != weights.shape[1]:
        raise InputError(
            f"The report's images_shape must have {weights.shape[1]} pixels in all (one per "
            f"feature). Got {grid!r}, {math.prod(grid)} pixels."
        )
    images = weights.reshape(-1, *grid)
    n = images.shape[0]
    columns = min(8, n)
    rows = math.ceil(n / columns)
    fig = _figure(1.35 * columns + 1.0, 1.45 * rows + 0.9)
    with _styled(fig):
        axes = fig.subplots(rows, columns, squeeze=False)
        vmax = float(np.max(np.abs(images))) or 1.0
        image = None
        for i, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= n:
                ax.set_visible(False)
                continue
            image = ax.imshow(images[i], cmap=DIVERGING, vmin=-vmax, vmax=vmax)
            ax.set_title(f"node {i}", fontsize=8, fontweight="normal")
        if image is not None:
            fig.colorbar(image, ax=axes, label="weight", shrink=0.8)
        fig.suptitle(f"{label(result.name, 30)}: node filters as images (orange: towards 'yes')")
    return fig
