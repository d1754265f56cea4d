"""The report's figures: matplotlib on the Agg canvas, PNG bytes out.

Every function takes numbers that :class:`~interpretable_kd.report.numbers.DistillationReport`
already computed and returns a :class:`matplotlib.figure.Figure` (or None when there is
nothing to draw); :func:`to_png` turns a figure into PNG bytes. Figures are built as
``Figure`` objects attached to an Agg canvas, never through ``pyplot``, so nothing here
touches matplotlib's global state: no backend switch, no open-figure registry, no leak
into the caller's interactive session.

Conventions: the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies), the teacher always in black, each student in the same colour in every
figure; diverging weights in purple–orange, counts in blues; every figure has a title and
labelled axes. Text from data (feature, class and student names) is drawn literally:
``$`` is escaped so that matplotlib never reads a name as mathtext.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator

__all__ = [
    "DPI",
    "OKABE_ITO",
    "TOP_FEATURES",
    "accuracy_fidelity",
    "agreement_matrices",
    "attribution_agreement",
    "distill_compare",
    "global_importance",
    "logistic_coefficients",
    "mlp_hidden_weights",
    "soft_tree_diagram",
    "to_png",
    "tree_filters",
]

#: Resolution of every PNG (the report's figures are at least this sharp).
DPI = 150
#: Features shown in importance and coefficient figures.
TOP_FEATURES = 15
#: Okabe & Ito (2008), "Color Universal Design": orange, sky blue, bluish green, blue,
#: vermillion, reddish purple, yellow, black.
OKABE_ITO = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
TEACHER_COLOUR = "#000000"
POSITIVE = "#0072B2"  # blue: raises the odds / significant
NEGATIVE = "#D55E00"  # vermillion: lowers the odds
MUTED = "#999999"
DIVERGING = "PuOr_r"
SEQUENTIAL = "Blues"
MAX_LABEL = 42  # characters of a name drawn in a figure (tables show it whole)
MAX_TREE_LEVELS = 5  # inner levels drawn in the tree diagram

_STYLE: Any = {  # rcParams while drawing (typed Any: the stubs want literal keys)
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8,
    "legend.frameon": False,
}


# --------------------------------------------------------------------------- helpers
def _figure(width: float, height: float) -> Figure:
    """A new figure on its own Agg canvas, with the report's style."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styled(fig: Figure) -> Any:
    """Context manager applying the report's rcParams while a figure is drawn."""
    return matplotlib.rc_context(_STYLE)


def to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` at :data:`DPI` (the pHYs chunk records the resolution)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def label(text: Any, limit: int = MAX_LABEL) -> str:
    """A name as matplotlib should draw it: literal (``$`` escaped), cut at ``limit``."""
    text = str(text).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def student_colour(index: int) -> str:
    """The colour of the ``index``-th student (the teacher is black)."""
    return OKABE_ITO[index % (len(OKABE_ITO) - 1)]


def class_colours(n: int) -> list[str]:
    """One colour per class: Okabe–Ito, then greys when there are more classes."""
    colours = list(OKABE_ITO[:-1])
    if n <= len(colours):
        return colours[:n]
    greys = [f"{g:.2f}" for g in np.linspace(0.15, 0.85, n - len(colours))]
    return colours + greys


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _interval(ci: Sequence[float] | None) -> tuple[float, float] | None:
    if ci is None or len(ci) != 2 or not (_finite(ci[0]) and _finite(ci[1])):
        return None
    return float(ci[0]), float(ci[1])


def _inner(model: Any) -> Any:
    """The fitted student inside a ``DistilledClassifier`` (or the model itself)."""
    return getattr(model, "student_", model)


def _text_colour(value: float, vmax: float) -> str:
    return "white" if vmax > 0 and value / vmax > 0.6 else "black"


# --------------------------------------------------------------------------- summary
def accuracy_fidelity(report: Any) -> Figure:
    """Accuracy (teacher and students) and fidelity (students), with 95% intervals."""
    names = list(report.students)
    results = list(report.students.values())
    has_accuracy = "accuracy" in report.teacher and report.teacher.get("accuracy") is not None
    panels = 2 if has_accuracy else 1
    fig = _figure(4.2 * panels + 1.5, 0.45 * (len(names) + 1) + 1.4)
    with _styled(fig):
        axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
        models = ["teacher", *names]
        y = np.arange(len(models))[::-1]
        colours = [TEACHER_COLOUR] + [student_colour(i) for i in range(len(names))]

        def draw(ax: Any, values: list[Any], cis: list[Any], title: str, xlabel: str) -> None:
            for yi, value, ci, colour in zip(y, values, cis, colours, strict=True):
                if not _finite(value):
                    if value is not None or title.startswith("Accuracy"):
                        ax.text(
                            0.5,
                            yi,
                            "n/a",
                            va="center",
                            ha="center",
                            color=MUTED,
                            transform=ax.get_yaxis_transform(),
                        )
                    continue
                interval = _interval(ci)
                if interval is not None:
                    ax.errorbar(
                        value,
                        yi,
                        xerr=[[value - interval[0]], [interval[1] - value]],
                        fmt="o",
                        color=colour,
                        ecolor=colour,
                        elinewidth=2,
                        capsize=4,
                        markersize=7,
                    )
                else:
                    ax.plot(value, yi, "o", color=colour, markersize=7)
                ax.annotate(
                    f"{value:.3f}",
                    (value, yi),
                    textcoords="offset points",
                    xytext=(0, 9),
                    ha="center",
                    fontsize=8,
                )
            intervals = [c for c in (_interval(ci) for ci in cis) if c is not None]
            ends = [v for v in values if _finite(v)] + [e for c in intervals for e in c]
            low, high = min(ends, default=0.0), max(ends, default=1.0)
            margin = max(0.02, 0.15 * (high - low))
            ax.set_xlim(max(0.0, low - margin), min(1.005, high + margin))
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)

        panel = 0
        if has_accuracy:
            values = [report.teacher.get("accuracy")] + [r.accuracy for r in results]
            cis = [report.teacher.get("accuracy_ci")] + [r.accuracy_ci for r in results]
            draw(axes[0], values, cis, "Accuracy on the true labels", "share of rows correct")
            panel = 1
        values = [None] + [r.fidelity for r in results]
        cis = [None] + [r.fidelity_ci for r in results]
        draw(
            axes[panel],
            values,
            cis,
            "Fidelity: agreement with the teacher",
            "share of rows where the student predicts the teacher's class",
        )
        axes[panel].text(
            0.5,
            y[0],
            "the reference",
            va="center",
            ha="center",
            color=MUTED,
            transform=axes[panel].get_yaxis_transform(),
        )
        axes[0].set_yticks(y, [label(m) for m in models])
        axes[0].set_ylim(-0.6, len(models) - 0.4)
        fig.suptitle("Accuracy and fidelity, with 95% bootstrap intervals")
    return fig


def agreement_matrices(report: Any) -> Figure:
    """One matrix per student: rows the teacher's class, columns the student's class."""
    names = list(report.students)
    classes = [label(c, 20) for c in report.class_names]
    n_classes = len(classes)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    cell = 0.55 if n_classes <= 4 else 0.38
    side = max(3.0, cell * n_classes + 1.8)
    fig = _figure(max(6.5, side * columns + 0.8), side * rows + 1.0)
    with _styled(fig):
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax in axes.flat[len(names) :]:
            ax.set_visible(False)
        for ax, (name, result) in zip(axes.flat, report.students.items(), strict=False):
            counts = np.asarray(result.agreement_matrix, dtype=float)
            totals = counts.sum(axis=1, keepdims=True)
            shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
            ax.imshow(shares, cmap=SEQUENTIAL, vmin=0, vmax=1)
            for (i, j), value in np.ndenumerate(counts):
                text = f"{int(value)}"
                if n_classes <= 4 and totals[i, 0] > 0:
                    text += f"\n{100 * shares[i, j]:.0f}%"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8 if n_classes <= 4 else 6,
                    color=_text_colour(shares[i, j], 1.0),
                )
            ticks = np.arange(n_classes)
            tilt = max(len(c) for c in classes) > max(2, 24 // n_classes)
            ax.set_xticks(
                ticks, classes, rotation=30 if tilt else 0, ha="right" if tilt else "center"
            )
            ax.set_yticks(ticks, classes)
            ax.set_xlabel("student's class")
            ax.set_ylabel("teacher's class")
            ax.set_title(f"{label(name, 20)}\nfidelity {result.fidelity:.3f}")
            ax.spines[:].set_visible(False)
        fig.suptitle("Agreement matrices\n(counts; colour: share of the teacher's row)")
    return fig


# --------------------------------------------------------------------------- attributions
def _importance_columns(report: Any) -> list[tuple[str, np.ndarray, str]]:
    """(title, global importance, colour) of the teacher and of each explained student."""
    columns = []
    if report.teacher_attributions is not None:
        columns.append(
            ("teacher", np.asarray(report.teacher_attributions.global_importance()), "#444444")
        )
    for i, (name, result) in enumerate(report.students.items()):
        if result.attributions is not None:
            columns.append(
                (name, np.asarray(result.attributions.global_importance()), student_colour(i))
            )
    return columns


def global_importance(report: Any, top: int = TOP_FEATURES) -> Figure | None:
    """Mean |SHAP| per feature of the teacher and each student, side by side.

    Features are ranked by the teacher's importance, or by the students' mean importance
    when the teacher is known only by its scores. Returns None when nothing was explained.
    """
    columns = _importance_columns(report)
    if not columns:
        return None
    ranking = (
        columns[0][1]
        if report.teacher_attributions is not None
        else np.mean([c[1] for c in columns], axis=0)
    )
    order = np.argsort(-ranking, kind="stable")[:top]
    names = [label(report.feature_names[j], 34) for j in order]
    y = np.arange(len(order))[::-1]
    fig = _figure(2.3 * len(columns) + 2.4, 0.27 * len(order) + 1.5)
    with _styled(fig):
        axes = fig.subplots(1, len(columns), sharey=True, sharex=True, squeeze=False)[0]
        for ax, (title, values, colour) in zip(axes, columns, strict=True):
            ax.barh(y, values[order], color=colour, height=0.7)
            ax.set_title(label(title, 24))
            ax.set_xlabel("mean |SHAP|")
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        axes[0].set_yticks(y, names)
        ranked = "teacher's" if report.teacher_attributions is not None else "students' mean"
        title = f"Global feature importance: top {len(order)} features by the {ranked} importance"
        if report.teacher_attributions is None:
            title += "\n(teacher attributions unavailable: scores only)"
        fig.suptitle(title)
    return fig


def attribution_agreement(report: Any) -> Figure | None:
    """Per-row agreement of each student's attributions with the teacher's, with the
    explainer's noise floor (the teacher explained twice) as the reference."""
    students = [(name, r) for name, r in report.students.items() if r.agreement_rows is not None]
    if not students:
        return None
    k = report.top_k
    metrics = [
        ("feature_agreement", f"Top-{k} feature agreement", f"share of the teacher's top-{k}"),
        ("rank_correlation", "Rank correlation (Spearman)", "correlation over all features"),
    ]
    fig = _figure(3.4 * len(metrics) + 1.2 * len(students), 4.2)
    rng = np.random.default_rng(0)
    with _styled(fig):
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        x = np.arange(len(students))
        for ax, (key, title, ylabel) in zip(axes, metrics, strict=True):
            data = []
            for i, (_, r) in enumerate(students):
                values = np.asarray(r.agreement_rows[key], dtype=float)
                values = values[np.isfinite(values)]
                data.append(values)
                jitter = rng.uniform(-0.18, 0.18, size=values.size)
                ax.scatter(
                    x[i] + jitter,
                    values,
                    s=9,
                    alpha=0.55,
                    color=student_colour(report_index(report, students[i][0])),
                    linewidths=0,
                )
            ax.boxplot(
                data,
                positions=x,
                widths=0.5,
                showfliers=False,
                medianprops={"color": "black", "linewidth": 1.5},
                boxprops={"linewidth": 1},
                whiskerprops={"linewidth": 1},
            )
            for i, (_, r) in enumerate(students):
                mean = r.agreement[key]["mean"] if r.agreement else None
                if _finite(mean):
                    ax.plot(x[i], mean, "D", color="black", markersize=5, zorder=5)
            floor = (report.noise_floor or {}).get(key)
            if floor is not None and _finite(floor.get("mean")):
                ax.axhline(floor["mean"], color=NEGATIVE, linestyle="--", linewidth=1.5)
                interval = _interval(floor.get("ci"))
                if interval is not None:
                    ax.axhspan(*interval, color=NEGATIVE, alpha=0.12, linewidth=0)
            ax.set_xticks(x, [label(n, 18) for n, _ in students])
            ax.set_xlim(-0.6, len(students) - 0.4)
            low = -0.05
            if key == "rank_correlation":
                smallest = min([float(np.min(v)) for v in data if v.size] + [1.0])
                if floor is not None and _finite(floor.get("mean")):
                    smallest = min(smallest, float(floor["mean"]))
                low = max(-1.05, math.floor(10 * smallest) / 10 - 0.05)
            ax.set_ylim(low, 1.08)
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        handles = [
            Line2D([], [], marker="D", color="black", linestyle="none", markersize=5),
            Line2D([], [], color="black", linewidth=1.5),
        ]
        names = ["mean over rows", "median (box: middle half of the rows)"]
        if report.noise_floor:
            handles.append(Line2D([], [], color=NEGATIVE, linestyle="--", linewidth=1.5))
            names.append("explainer noise floor: teacher vs itself (band: 95% interval)")
        fig.legend(handles, names, loc="outside lower center", ncol=len(handles))
        fig.suptitle("Agreement of each student's attributions with the teacher's, row by row")
    return fig


def report_index(report: Any, name: str) -> int:
    """Position of a student in the report (its colour)."""
    return list(report.students).index(name)


# --------------------------------------------------------------------------- white boxes
def logistic_coefficients(
    result: Any, feature_names: Sequence[str], class_names: Sequence[str], top: int = TOP_FEATURES
) -> Figure:
    """Coefficients of a logistic student by feature name (largest |coefficient| first);
    odds ratios ``exp(coef)`` written beside the bars of a binary model."""
    model = _inner(result.model)
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(getattr(model, "intercept_", [0.0]), dtype=float))
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
    weight norm) above the output weights (classes x hidden units) of an MLP student."""
    model = _inner(result.model)
    hidden = np.asarray(model.hidden_weights_, dtype=float)  # (units, features)
    output = np.asarray(model.output_weights_, dtype=float)  # (classes, units)
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


def _tree_parts(model: Any) -> dict[str, Any]:
    """What the diagram needs from a fitted SoftDecisionTreeClassifier."""
    weights = np.asarray(model.node_weights_, dtype=float)
    n_inner = weights.shape[0]
    leaves = np.asarray(model.leaf_distributions_, dtype=float)
    n_leaves = leaves.shape[0]
    reach = getattr(model, "node_reach_", None)
    counts = getattr(model, "leaf_counts_", None)
    names = getattr(model, "feature_names_in_", None)
    return {
        "weights": weights,
        "biases": np.asarray(model.node_biases_, dtype=float),
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
    """``+1.23`` / ``−1.23`` with a typographic minus."""
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
    """
    parts = _tree_parts(_inner(result.model))
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


def tree_filters(result: Any, shape: tuple[int, int]) -> Figure:
    """The inner nodes' effective filters drawn as images (image data only)."""
    model = _inner(result.model)
    images = np.asarray(model.node_filters_as_images(tuple(shape)), dtype=float)
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


def distill_compare(report: Any, top: int = 10) -> Figure | None:
    """Distill-and-Compare (Tan et al. 2018), one panel per student that has an outcome
    model: mean |SHAP| of each feature in the mimic (distilled) student minus in the
    outcome student, with 95% intervals, the ``top`` largest differences; filled where the
    interval excludes zero. Returns None when no student has the panel."""
    panels = [
        (i, name, result.outcome["importance"])
        for i, (name, result) in enumerate(report.students.items())
        if result.outcome is not None and result.outcome.get("importance") is not None
    ]
    panels = [(i, name, table) for i, name, table in panels if len(table)]
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    shown_rows = min(top, max(len(t) for _, _, t in panels))
    fig = _figure(3.8 * columns + 0.6, rows * (0.3 * shown_rows + 1.3) + 0.8)
    with _styled(fig):
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax, (index, name, table) in zip(axes.flat, panels, strict=False):
            shown = table.head(top)
            y = np.arange(len(shown))[::-1]
            for yi, row in zip(y, shown.itertuples(index=False), strict=True):
                significant = bool(row.significant)
                colour = student_colour(index) if significant else MUTED
                low, high = row.difference_low, row.difference_high
                if _finite(low) and _finite(high):
                    ax.plot([low, high], [yi, yi], color=colour, linewidth=2)
                ax.plot(
                    row.difference,
                    yi,
                    "o",
                    color=colour,
                    markerfacecolor=colour if significant else "white",
                    markersize=6,
                )
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_yticks(y, [label(f, 28) for f in shown["feature"]])
            ax.set_xlabel("mimic − outcome, mean |SHAP|")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.set_title(label(name, 30))
        fig.suptitle(
            "Distill-and-Compare: features the mimic relies on more (right) or less (left) "
            "than the outcome model\n(filled: the 95% interval excludes 0)"
        )
    return fig
