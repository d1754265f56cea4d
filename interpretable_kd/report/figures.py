"""The report's comparison figures: matplotlib on the Agg canvas, PNG bytes out.

Every function takes the report (a :class:`~interpretable_kd.audit.ComparisonResult`:
numbers already computed) and returns a :class:`matplotlib.figure.Figure`, or None when
there is nothing to draw; :func:`to_png` turns a figure into PNG bytes. The drawings of
the students themselves (coefficients, hidden weights, the soft tree) are in
:mod:`.whitebox`, drawn from each student's readable view; the shared look (palette,
canvas, literal labels) is in :mod:`._style`. Both are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .._defaults import MAX_MATRIX_CLASSES
from ._style import (
    DPI,
    MUTED,
    NEGATIVE,
    OKABE_ITO,
    SEQUENTIAL,
    TEACHER_COLOUR,
    TOP_FEATURES,
    class_colours,
    label,
    model_label,
    student_colour,
    to_png,
)
from ._style import finite as _finite
from ._style import interval as _interval
from ._style import new_figure as _figure
from ._style import styled as _styled
from ._style import text_colour as _text_colour
from ._summaries import confusion_summary, fitted_suptitle
from .whitebox import logistic_coefficients, mlp_hidden_weights, soft_tree_diagram, tree_filters

__all__ = [
    "DPI",
    "OKABE_ITO",
    "TOP_FEATURES",
    "accuracy_fidelity",
    "agreement_matrices",
    "attribution_agreement",
    "class_colours",
    "distill_compare",
    "global_importance",
    "label",
    "logistic_coefficients",
    "mlp_hidden_weights",
    "report_index",
    "soft_tree_diagram",
    "student_colour",
    "to_png",
    "tree_filters",
]


# --------------------------------------------------------------------------- summary
def accuracy_fidelity(report: Any) -> Figure:
    """Accuracy (teacher and students) and fidelity (students), with 95% intervals.

    Parameters
    ----------
    report : ComparisonResult
        The comparison (teacher dict, student results).

    Returns
    -------
    Figure
        One panel per measure (accuracy only with labels), one row per model.
    """
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
            """Draw one panel: a point per model, its interval as error bars.

            Parameters
            ----------
            ax : Axes
                The panel.
            values, cis : list
                One estimate and one ``(low, high)`` (or None) per model, teacher first.
            title, xlabel : str
                The panel's labels.
            """
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
        axes[0].set_yticks(y, [model_label(m, 28) for m in models])
        axes[0].set_ylim(-0.6, len(models) - 0.4)
        fitted_suptitle(fig, "Accuracy and fidelity, with 95% bootstrap intervals")
    return fig


def agreement_matrices(report: Any) -> Figure:
    """One matrix per student: rows the teacher's class, columns the student's class.

    Beyond ``_defaults.MAX_MATRIX_CLASSES`` (30) classes a k x k matrix is unreadable and
    its drawing grows with k² (1,000 classes needed more than 10 GB): the figure is then
    :func:`~._summaries.confusion_summary`, each student's most frequent disagreements.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure
        Counts, coloured by the share of the teacher's row (or the summary).
    """
    names = list(report.students)
    n_classes = len(report.class_names)
    if n_classes > MAX_MATRIX_CLASSES:
        return confusion_summary(report)
    classes = [label(c, 20) for c in report.class_names]
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
            ax.set_title(f"{model_label(name, 24)}\nfidelity {result.fidelity:.3f}")
            ax.spines[:].set_visible(False)
        fitted_suptitle(fig, "Agreement matrices\n(counts; colour: share of the teacher's row)")
    return fig


# --------------------------------------------------------------------------- attributions
def _importance_columns(report: Any) -> list[tuple[str, np.ndarray, str]]:
    """(title, global importance, colour) of the teacher and of each explained student.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    list of tuple
        ``(title, mean |SHAP| of shape (n_features,), colour)``, teacher first.
    """
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
    when the teacher is known only by its scores.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    top : int
        Features shown.

    Returns
    -------
    Figure or None
        None when nothing was explained.
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
        fitted_suptitle(fig, title)
    return fig


def attribution_agreement(report: Any) -> Figure | None:
    """Per-row agreement of each student's attributions with the teacher's, with the
    explainer's noise floor (the teacher explained twice) as the reference.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure or None
        Top-k feature agreement and rank correlation per explained row; None when no
        student's attributions could be compared.
    """
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
            ax.set_xticks(x, [model_label(n, 18) for n, _ in students])
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
        fitted_suptitle(
            fig, "Agreement of each student's attributions with the teacher's, row by row"
        )
    return fig


def report_index(report: Any, name: str) -> int:
    """Position of a student in the report (its colour).

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    name : str
        A student's name.

    Returns
    -------
    int
    """
    return list(report.students).index(name)


# --------------------------------------------------------------------------- white boxes


def distill_compare(report: Any, top: int = 10) -> Figure | None:
    """Distill-and-Compare (Tan et al. 2018), one panel per student that has an outcome
    model: mean |SHAP| of each feature in the mimic (distilled) student minus in the
    outcome student, with 95% intervals, the ``top`` largest differences; filled where the
    interval excludes zero.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    top : int
        Features shown per student.

    Returns
    -------
    Figure or None
        None when no student has the panel.
    """
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
            ax.set_title(model_label(name, 30))
        fitted_suptitle(
            fig,
            "Distill-and-Compare: features the mimic relies on more (right) or less (left) "
            "than the outcome model\n(filled: the 95% interval excludes 0)",
        )
    return fig
