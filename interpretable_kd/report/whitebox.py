"""The report's white-box figures: each student drawn from its own readable view.

A student's :attr:`~interpretable_kd.audit.StudentResult.view` is plain data that the
model produced (``readable_view()``); its ``"view"`` key names the drawing. This module
never reads a model: :data:`DRAWINGS` maps each view name to the figures drawn for it,
and a view with no entry (or ``{"view": None}``) gets no white-box figure, while the rest
of the report is unchanged. Adding a drawing = a function here and one entry in
:data:`DRAWINGS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._style import DIVERGING, NEGATIVE, POSITIVE, TOP_FEATURES, label, view_of
from ._style import new_figure as _figure
from ._style import styled as _styled
from ._style import text_colour as _text_colour
from .tree import MAX_TREE_LEVELS, soft_tree_diagram, tree_filters

__all__ = [
    "DRAWINGS",
    "MAX_TREE_LEVELS",
    "WhiteboxFigure",
    "logistic_coefficients",
    "mlp_hidden_weights",
    "soft_tree_diagram",
    "tree_filters",
]


# --------------------------------------------------------------------------- drawings
def logistic_coefficients(
    result: Any, feature_names: Sequence[str], class_names: Sequence[str], top: int = TOP_FEATURES
) -> Figure:
    """Coefficients of a linear student by feature name (largest |coefficient| first);
    odds ratios ``exp(coef)`` written beside the bars of a binary model.

    Parameters
    ----------
    result : StudentResult
        A student whose view is ``"coefficients"``: ``coef`` of shape (n_out, n_features)
        (n_out = 1: log-odds of the second class) and ``intercept`` of shape (n_out,).
    feature_names, class_names : sequence of str
        Display names.
    top : int
        Features shown: the ``top`` largest |coefficient| (over classes).

    Returns
    -------
    Figure
        Bars with odds ratios (n_out = 1), else a features x classes heat map.
    """
    view = view_of(result)
    coef = np.atleast_2d(np.asarray(view["coef"], dtype=float))
    intercept = np.atleast_1d(np.asarray(view["intercept"], dtype=float))
    fig: Figure
    if coef.shape[0] == 1:
        order = np.argsort(-np.abs(coef[0]), kind="stable")[:top]
        values = coef[0, order]
        y = np.arange(len(order))[::-1]
        fig = _figure(8.0, 0.3 * len(order) + 1.6)
        with _styled(fig):
            ax = fig.subplots()
            colours = [POSITIVE if v >= 0 else NEGATIVE for v in values]
            ax.barh(y, values, color=colours, height=0.7)
            ax.axvline(0, color="black", linewidth=0.8)
            span = float(np.max(np.abs(values))) if values.size else 1.0
            for yi, value in zip(y, values, strict=True):
                ax.text(
                    value + (0.02 * span if value >= 0 else -0.02 * span),
                    yi,
                    f"×{math.exp(value):.2f}",
                    va="center",
                    ha="left" if value >= 0 else "right",
                    fontsize=7,
                )
            ax.set_xlim(-1.3 * span, 1.3 * span)
            ax.set_yticks(y, [label(feature_names[j]) for j in order])
            positive = label(class_names[1] if len(class_names) > 1 else "class 1", 24)
            ax.set_xlabel(f"coefficient (log-odds of '{positive}'); beside each bar: odds ratio")
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.set_title(
                f"{label(result.name, 30)}: top {len(order)} coefficients "
                f"(intercept {intercept[0]:+.3f})\nblue raises, vermillion lowers the odds "
                f"of '{positive}'"
            )
        return fig
    order = np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:top]
    block = coef[:, order].T
    fig = _figure(1.0 * coef.shape[0] + 4.5, 0.3 * len(order) + 2.0)
    with _styled(fig):
        ax = fig.subplots()
        vmax = float(np.max(np.abs(block))) or 1.0
        image = ax.imshow(block, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto")
        for (i, j), value in np.ndenumerate(block):
            colour = _text_colour(abs(value), vmax)
            ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7, color=colour)
        ax.set_yticks(np.arange(len(order)), [label(feature_names[j]) for j in order])
        names = [label(c, 14) for c in class_names]
        tilt = max(len(c) for c in names) > max(2, 60 // len(names))
        ax.set_xticks(
            np.arange(coef.shape[0]),
            names,
            rotation=30 if tilt else 0,
            ha="right" if tilt else "center",
        )
        ax.set_xlabel("class")
        ax.set_title(f"{label(result.name, 30)}: coefficients of the top {len(order)} features")
        fig.colorbar(image, ax=ax, label="coefficient (log-odds)", shrink=0.8)
    return fig


def mlp_hidden_weights(
    result: Any, feature_names: Sequence[str], class_names: Sequence[str], top: int = 20
) -> Figure:
    """First-layer weights (features x hidden units; the ``top`` features with the largest
    weight norm) above the output weights (classes x hidden units) of an MLP student.

    Parameters
    ----------
    result : StudentResult
        A student whose view is ``"hidden_weights"``: ``hidden_weights`` of shape
        (units, n_features) and ``output_weights`` of shape (n_classes, units).
    feature_names, class_names : sequence of str
        Display names.
    top : int
        Features shown: the ``top`` with the largest weight norm over the units.

    Returns
    -------
    Figure
        Two heat maps sharing the hidden-unit axis.
    """
    view = view_of(result)
    hidden = np.asarray(view["hidden_weights"], dtype=float)  # (units, features)
    output = np.asarray(view["output_weights"], dtype=float)  # (classes, units)
    order = np.argsort(-np.linalg.norm(hidden, axis=0), kind="stable")[:top]
    n_units = hidden.shape[0]
    height = 0.22 * len(order) + 0.3 * output.shape[0] + 2.2
    fig = _figure(min(14.0, 0.32 * n_units + 4.5), height)
    with _styled(fig):
        top_ax, bottom_ax = fig.subplots(
            2,
            1,
            sharex=True,
            gridspec_kw={"height_ratios": [max(len(order), 1), max(output.shape[0], 1) + 0.5]},
        )
        block = hidden[:, order].T
        vmax = float(np.max(np.abs(block))) or 1.0
        image = top_ax.imshow(block, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto")
        top_ax.set_yticks(np.arange(len(order)), [label(feature_names[j], 34) for j in order])
        top_ax.set_ylabel("feature")
        top_ax.set_title(
            f"{label(result.name, 30)}: input weights of the {n_units} hidden units "
            f"({len(order)} features with the largest weights)"
        )
        fig.colorbar(image, ax=top_ax, label="input weight", shrink=0.8)
        vout = float(np.max(np.abs(output))) or 1.0
        image = bottom_ax.imshow(output, cmap=DIVERGING, vmin=-vout, vmax=vout, aspect="auto")
        bottom_ax.set_yticks(np.arange(output.shape[0]), [label(c, 20) for c in class_names])
        bottom_ax.set_ylabel("class")
        bottom_ax.set_xlabel("hidden unit")
        bottom_ax.set_xticks(np.arange(n_units), [str(u) for u in range(n_units)])
        bottom_ax.set_title("output weights: how each unit pushes each class's logit")
        fig.colorbar(image, ax=bottom_ax, label="output weight", shrink=0.8)
    return fig


# --------------------------------------------------------------------------- dispatch
#: ``draw(result, feature_names, class_names, images_shape)`` -> Figure or None.
Drawing = Callable[[Any, Sequence[str], Sequence[str], "tuple[int, int] | None"], "Figure | None"]


@dataclass(frozen=True)
class WhiteboxFigure:
    """One white-box figure of a student.

    Attributes
    ----------
    slot : str
        Where the page shows it: ``"whitebox"`` (the main drawing) or ``"filters"``.
    suffix : str
        File name ending: ``figures/student<i>_<name>_<suffix>.png``.
    title, caption : str
        Shown under the figure.
    draw : callable
        ``draw(result, feature_names, class_names, images_shape)`` -> Figure, or None
        when there is nothing to draw.
    """

    slot: str
    suffix: str
    title: str
    caption: str
    draw: Drawing


def _draw_filters(
    result: Any,
    feature_names: Sequence[str],
    class_names: Sequence[str],
    images_shape: tuple[int, int] | None,
) -> Figure | None:
    """:func:`tree_filters` for image data; None for any other data.

    Parameters
    ----------
    result : StudentResult
        A ``"soft_tree"`` student.
    feature_names, class_names : sequence of str
        Unused (the filters are drawn on the image grid).
    images_shape : tuple of int or None
        The image grid, None for tabular data.

    Returns
    -------
    Figure or None
    """
    if images_shape is None:
        return None
    return tree_filters(result, images_shape)


#: View name -> the figures drawn for it, in page order.
DRAWINGS: dict[str, tuple[WhiteboxFigure, ...]] = {
    "coefficients": (
        WhiteboxFigure(
            "whitebox",
            "coefficients",
            "Coefficients",
            "Coefficients in log-odds per unit of each feature as the student sees it; "
            "beside each bar the odds ratio exp(coefficient).",
            lambda result, names, classes, shape: logistic_coefficients(result, names, classes),
        ),
    ),
    "soft_tree": (
        WhiteboxFigure(
            "whitebox",
            "tree",
            "Tree diagram",
            "Each inner node shows its three largest effective weights; a row goes "
            "'yes' with probability sigmoid(Σ w·x + b). Each leaf shows its class "
            "distribution and the training rows whose most probable leaf it is.",
            lambda result, names, classes, shape: soft_tree_diagram(result, classes, names),
        ),
        WhiteboxFigure(
            "filters",
            "filters",
            "Node filters as images",
            "Each inner node's effective weights drawn on the image grid.",
            _draw_filters,
        ),
    ),
    "hidden_weights": (
        WhiteboxFigure(
            "whitebox",
            "hidden_weights",
            "Hidden-unit weights",
            "Top: what each hidden unit looks at (input weights). Bottom: how each unit "
            "moves each class's logit (output weights).",
            lambda result, names, classes, shape: mlp_hidden_weights(result, names, classes),
        ),
    ),
}
