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
    "additive_shapes",
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


def _group_shape(
    shapes: Any, members: Sequence[str], output: str
) -> tuple[str, np.ndarray, np.ndarray]:
    """The student's shape of one group for one output: ``("numeric", knots, values)``
    for a single feature; for a one-hot group ``("categorical", categories, values)``,
    the group's total when a row is in each category (its column at its largest value,
    the others at their smallest)."""
    rows = shapes[shapes["class"].astype(str) == output]
    if len(members) == 1:
        one = rows[rows["feature"] == members[0]]
        return "numeric", one["x"].to_numpy(float), one["contribution"].to_numpy(float)
    low, high = {}, {}
    for member in members:
        one = rows[rows["feature"] == member].sort_values("x")
        values = one["contribution"].to_numpy(float)
        low[member] = values[0] if values.size else 0.0
        high[member] = values[-1] if values.size else 0.0
    totals = [high[c] + sum(low[m] for m in members if m != c) for c in members]
    return "categorical", np.array([m.split("=", 1)[1] for m in members]), np.array(totals)


def additive_shapes(
    result: Any, feature_names: Sequence[str], class_names: Sequence[str], top: int = 9
) -> Figure:
    """The additive student's shape functions of its most important features (one-hot
    groups as one bar chart each), the teacher's partial dependence beside each.

    For more than two classes each panel shows the class whose shape varies most, as a
    centred logit (``f_k - mean_c f_c``), the teacher's on the same scale.

    Parameters
    ----------
    result : StudentResult
        A student whose view is ``"additive"``: ``groups``, ``shapes``, ``importances``,
        ``outputs``, ``interactions`` and, when the comparison could compute it,
        ``teacher_partial_dependence`` (group label -> ``x``, ``values``).
    feature_names, class_names : sequence of str
        Display names (class names label the panels).
    top : int
        Panels drawn at most.

    Returns
    -------
    Figure
        One panel per group, most important first.
    """
    view = view_of(result)
    shapes = view["shapes"]
    outputs = [str(o) for o in view["outputs"]]
    importance = dict(
        zip(view["importances"]["term"], view["importances"]["importance"], strict=True)
    )
    groups = sorted(view["groups"], key=lambda g: -sum(importance.get(m, 0.0) for m in g[1]))
    groups = groups[:top]
    teacher = view.get("teacher_partial_dependence") or {}
    columns = min(3, max(len(groups), 1))
    rows_n = max(1, math.ceil(len(groups) / columns))
    fig = _figure(4.0 * columns, 2.8 * rows_n + 0.9)
    with _styled(fig):
        axes = np.atleast_1d(fig.subplots(rows_n, columns, squeeze=False)).ravel()
        for ax, (name, members) in zip(axes, groups, strict=False):
            drawn = [_group_shape(shapes, members, o) for o in outputs]
            if len(outputs) > 1:  # centred logits: f_k - mean_c f_c
                mean = np.mean([d[2] for d in drawn], axis=0)
                drawn = [(k, x, v - mean) for k, x, v in drawn]
            pick = int(np.argmax([np.ptp(d[2]) if d[2].size else 0.0 for d in drawn]))
            kind, x, values = drawn[pick]
            pd_entry = teacher.get(name)
            if kind == "categorical":
                where = np.arange(len(x))
                width = 0.4 if pd_entry is not None else 0.7
                ax.bar(
                    where - (width / 2 if pd_entry else 0),
                    values,
                    width,
                    color=POSITIVE,
                    label="student",
                )
                if pd_entry is not None:
                    ax.bar(
                        where + width / 2,
                        np.asarray(pd_entry["values"])[:, pick],
                        width,
                        color="#000000",
                        alpha=0.55,
                        label="teacher PD",
                    )
                ax.set_xticks(where, [label(c, 14) for c in x], rotation=30, ha="right")
                ax.axhline(0, color="black", linewidth=0.6)
            else:
                ax.plot(x, values, color=POSITIVE, linewidth=1.8, label="student")
                if pd_entry is not None:
                    ax.plot(
                        pd_entry["x"],
                        np.asarray(pd_entry["values"])[:, pick],
                        "--o",
                        color="#000000",
                        markersize=2.5,
                        linewidth=1.0,
                        label="teacher PD",
                    )
                ax.set_xlabel(label(name, 34))
            title = label(name, 30)
            if len(outputs) > 1:
                title += f" (class {label(outputs[pick], 12)})"
            ax.set_title(title, fontsize=9)
            ax.grid(color="#eeeeee", linewidth=0.6)
        for ax in axes[len(groups) :]:
            ax.set_visible(False)
        if len(axes) and groups:
            axes[0].legend(fontsize=7, loc="best")
        pairs = [p["features"] for p in view.get("interactions", [])]
        shown = "; ".join(" × ".join(label(n, 14) for n in p) for p in pairs[:3])
        more = f" and {len(pairs) - 3} more" if len(pairs) > 3 else ""
        scale = "log-odds of " + label(outputs[0], 20) if len(outputs) == 1 else "centred logit"
        fig.suptitle(
            f"{label(result.name, 30)}: shape functions ({scale}); teacher partial "
            "dependence dashed" + (f"\npair terms: {shown}{more}" if pairs else ""),
            fontsize=10,
        )
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
    "additive": (
        WhiteboxFigure(
            "whitebox",
            "shapes",
            "Shape functions",
            "Each panel: how one feature (or one categorical column's categories) moves the "
            "student's log-odds, centred on the training rows; dashed: the teacher's partial "
            "dependence on the held-out rows, centred. Where the two part, the student does "
            "not follow the teacher.",
            lambda result, names, classes, shape: additive_shapes(result, names, classes),
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
