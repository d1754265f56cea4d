"""Figures of "where not to trust the students", drawn from the comparison's ``where``.

Every function takes the report (a :class:`~interpretable_kd.audit.ComparisonResult`
with ``where`` filled by :func:`~interpretable_kd.audit._where.where_not_to_trust`) and
returns a Figure or None (nothing to draw); none reads a model. :func:`figure_specs`
lists them for ``html.py``:

* **fidelity by group**: teacher-confidence bands and segment columns, each student's
  fidelity with its 95% Wilson interval;
* **waterfalls**: for each student's largest disagreements, the teacher's and the
  student's attributions of the teacher's class side by side, from the base value to
  the model's probability (shap's waterfall);
* **dependence**: for each top feature, attribution against the feature's value in the
  user's units, teacher and students overlaid;
* **summary (beeswarm)**: every explained row's attribution per top feature and model,
  coloured by the feature's value, over the explainer's noise band;
* **heatmaps** (image data): mean |attribution| of each pixel per model, instead of
  one bar per pixel.

At most :data:`MAX_FEATURES` features are drawn in any figure, so wide data (784 pixel
columns) never gives hundreds of bars.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._style import MUTED, TEACHER_COLOUR, label, new_figure, student_colour, styled

__all__ = [
    "MAX_FEATURES",
    "MAX_WATERFALLS",
    "attribution_heatmaps",
    "attribution_summary",
    "dependence_plots",
    "fidelity_groups",
    "figure_specs",
    "waterfalls",
]

#: Most features in any figure of this module.
MAX_FEATURES = 10
#: Largest disagreements drawn as waterfalls per student.
MAX_WATERFALLS = 3
#: Bars of one waterfall panel before the rest are summed into "other features".
_WATERFALL_BARS = 6


def _where(report: Any) -> dict[str, Any] | None:
    """The report's ``where`` entry (None for a report made without it)."""
    return getattr(report, "where", None)


def _models(report: Any) -> list[tuple[str, np.ndarray, str]]:
    """(name, attributions of the explained rows, colour): teacher first, then students.

    Returns
    -------
    list of tuple
    """
    out = []
    if report.teacher_attributions is not None:
        out.append(("teacher", np.asarray(report.teacher_attributions.values), TEACHER_COLOUR))
    for i, (name, result) in enumerate(report.students.items()):
        if result.attributions is not None:
            out.append((name, np.asarray(result.attributions.values), student_colour(i)))
    return out


def _axis_name(report: Any, j: int) -> str:
    """A feature's axis label, saying whether values are in the user's units."""
    where = _where(report) or {}
    raw = where.get("raw") or [False] * len(report.feature_names)
    unit = "original units" if raw[j] else "as the model sees it"
    return f"{label(report.feature_names[j], 40)} ({unit})"


def _number(value: float) -> str:
    """A feature value as written in a label: ``95,991``, ``59``, ``1.557``."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


# --------------------------------------------------------------------------- groups
def fidelity_groups(report: Any) -> Figure | None:
    """Fidelity by teacher-confidence band and by each segment column, per student.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure or None
        One panel per grouping; None without groups.
    """
    where = _where(report)
    if where is None or not len(where["groups"]):
        return None
    groups = where["groups"]
    panels = [
        c
        for c in dict.fromkeys(groups["column"])
        if c in set(groups.loc[groups["view"] != "feature", "column"])
    ]
    if not panels:
        return None
    fig = new_figure(min(11.0, 4.0 + 0.2 * len(groups)), 2.8 * len(panels) + 0.6)
    names = list(report.students)
    with styled(fig):
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, column in zip(axes, panels, strict=True):
            part = groups[groups["column"] == column]
            first = part.drop_duplicates("order").sort_values("order")
            orders, labels = list(first["order"]), list(first["group"])
            x = np.arange(len(labels))
            width = 0.8 / max(len(names), 1)
            for i, name in enumerate(names):
                mine = part[part["student"] == name].set_index("order").reindex(orders)
                pos = x - 0.4 + width * (i + 0.5)
                fid = mine["fidelity"].to_numpy(dtype=float)
                err = np.vstack(
                    [
                        fid - mine["fidelity_low"].to_numpy(dtype=float),
                        mine["fidelity_high"].to_numpy(dtype=float) - fid,
                    ]
                )
                ax.errorbar(
                    pos,
                    fid,
                    yerr=np.clip(err, 0, None),
                    fmt="o",
                    color=student_colour(i),
                    label=label(name, 30),
                    capsize=2,
                    markersize=4,
                )
            view = part["view"].iloc[0]
            ax.set_title(f"{view}: {label(column, 40)}")
            if view == "teacher confidence":  # ranges are in the table; ticks name deciles
                ax.set_xticks(x, [str(k + 1) for k in range(len(labels))])
                ax.set_xlabel(f"band of {column}, 1 = least confident (ranges in the table)")
            else:
                ax.set_xticks(x, [label(g, 60) for g in labels], rotation=30, ha="right")
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.set_ylabel("fidelity")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes[0].legend(loc="lower right", ncols=min(len(names), 3))
        fig.suptitle("Fidelity by group (95% Wilson intervals)")
    return fig


# --------------------------------------------------------------------------- waterfalls
def _waterfall_panel(
    ax: Any, values: np.ndarray, base: float, order: np.ndarray, names: list[str], title: str
) -> None:
    """One model's waterfall: base value, one bar per feature of ``order``, the rest."""
    shown = values[order]
    rest = float(values.sum() - shown.sum())
    steps = [*shown, rest]
    start = base
    for k, v in enumerate(steps):
        colour = "#0072B2" if v >= 0 else "#D55E00"
        ax.barh(len(steps) - 1 - k, v, left=start, color=colour, height=0.65)
        start += v
    ax.axvline(base, color=MUTED, linewidth=0.8, linestyle=":")
    ax.axvline(start, color=TEACHER_COLOUR, linewidth=0.8)
    ax.set_yticks(np.arange(len(steps))[::-1], names)
    ax.set_title(title)
    ax.set_xlabel("probability of the teacher's class")


def waterfalls(report: Any, student: str) -> Figure | None:
    """Side-by-side waterfalls of the student's largest disagreements.

    Each row of panels is one disagreeing row (largest gap first): the teacher's and the
    student's attributions of the teacher's class, from the base value (dotted) to the
    model's probability (solid line). Features are ranked by ``|phi_T| + |phi_S|``; the
    rest are summed into "other features". Labels give the feature's value in the
    user's units.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    student : str
        The student's name.

    Returns
    -------
    Figure or None
        None when no disagreement was explained for both models.
    """
    where = _where(report)
    if where is None:
        return None
    entries = [
        e
        for e in where["waterfalls"].get(student, [])
        if e["teacher"] is not None and e["student"] is not None
    ][:MAX_WATERFALLS]
    if not entries:
        return None
    values = where["values"]
    n_bars = min(_WATERFALL_BARS, len(report.feature_names))
    fig = new_figure(10.5, 0.32 * (n_bars + 1) * len(entries) + 1.2 * len(entries) + 0.6)
    with styled(fig):
        axes = fig.subplots(len(entries), 2, squeeze=False)
        for row_axes, entry in zip(axes, entries, strict=True):
            t, s = entry["teacher"], entry["student"]
            score = np.abs(t["values"]) + np.abs(s["values"])
            order = np.argsort(-score, kind="stable")[:n_bars]
            names = [
                f"{label(report.feature_names[j], 30)} = {_number(values[entry['row'], j])}"
                for j in order
            ] + ["other features"]
            for ax, part, who in zip(row_axes, (t, s), ("teacher", student), strict=True):
                _waterfall_panel(
                    ax,
                    part["values"],
                    part["base"],
                    order,
                    names,
                    f"row {label(entry['row_id'], 20)}, {label(who, 24)}: {part['output']:.2f}",
                )
        fig.suptitle(f"Largest disagreements of {label(student, 40)}: teacher | student")
    return fig


# --------------------------------------------------------------------------- per feature
def _top(report: Any) -> list[int]:
    """The top features of ``where`` (at most :data:`MAX_FEATURES`)."""
    where = _where(report) or {}
    return [int(j) for j in where.get("top_features", [])][:MAX_FEATURES]


def dependence_plots(report: Any) -> Figure | None:
    """Attribution against feature value for each top feature, all models overlaid.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure or None
        One panel per top feature (at most six); None when nothing was explained.
    """
    where, models = _where(report), _models(report)
    top = _top(report)[:6]
    if where is None or not models or not top or where.get("explained") is None:
        return None
    x_all = where["values"][np.asarray(where["explained"])]
    cols = min(3, len(top))
    rows = int(np.ceil(len(top) / cols))
    fig = new_figure(3.6 * cols + 0.6, 3.0 * rows + 0.8)
    with styled(fig):
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, j in zip(axes, top, strict=False):
            for name, values, colour in models:
                ax.scatter(
                    x_all[:, j],
                    values[:, j],
                    s=9,
                    color=colour,
                    alpha=0.6,
                    label=label(name, 30),
                    edgecolors="none",
                )
            ax.axhline(0, color=MUTED, linewidth=0.6)
            ax.set_xlabel(_axis_name(report, j))
            ax.set_ylabel("SHAP value")
        for ax in axes[len(top) :]:
            ax.set_visible(False)
        axes[0].legend(loc="best", markerscale=1.5)
        fig.suptitle("Dependence: attribution of the teacher's class against the feature's value")
    return fig


def attribution_summary(report: Any) -> Figure | None:
    """Beeswarm-style summary: each explained row's attribution per top feature, one
    panel per model, coloured by the feature's value (low blue, high orange), over the
    explainer's 95% noise band (grey).

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure or None
        None when nothing was explained.
    """
    where, models = _where(report), _models(report)
    top = _top(report)
    if where is None or not models or not top or where.get("explained") is None:
        return None
    x_all = where["values"][np.asarray(where["explained"])]
    band = where.get("noise_band")
    rng = np.random.default_rng(0)
    fig = new_figure(2.9 * len(models) + 2.6, 0.42 * len(top) + 1.6)
    with styled(fig):
        axes = fig.subplots(1, len(models), sharey=True, sharex=True, squeeze=False)[0]
        y = np.arange(len(top))[::-1]
        for ax, (name, values, colour) in zip(axes, models, strict=True):
            for yi, j in zip(y, top, strict=True):
                if band is not None:
                    ax.fill_betweenx(
                        [yi - 0.4, yi + 0.4], -band[j], band[j], color="#e6e6e6", linewidth=0
                    )
                column = x_all[:, j]
                spread = np.ptp(column)
                shade = (
                    (column - column.min()) / spread if spread > 0 else np.full_like(column, 0.5)
                )
                jitter = rng.uniform(-0.28, 0.28, size=column.size)
                ax.scatter(
                    values[:, j],
                    yi + jitter,
                    c=shade,
                    cmap="PuOr_r",
                    vmin=0,
                    vmax=1,
                    s=8,
                    edgecolors="none",
                )
            ax.axvline(0, color=MUTED, linewidth=0.6)
            ax.set_title(label(name, 28), color=colour)
            ax.set_xlabel("SHAP value")
        axes[0].set_yticks(y, [label(report.feature_names[j], 30) for j in top])
        note = "; grey: explainer noise band" if band is not None else ""
        fig.suptitle(f"Attributions per row (colour: feature value, low to high{note})")
    return fig


def attribution_heatmaps(report: Any) -> Figure | None:
    """Mean |attribution| per pixel of each model, for image data (``images_shape``).

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    Figure or None
        None without an image grid or attributions.
    """
    shape = report.images_shape
    models = _models(report)
    if shape is None or not models or int(np.prod(shape)) != len(report.feature_names):
        return None
    maps = [np.abs(v).mean(axis=0).reshape(shape) for _, v, _ in models]
    vmax = max(float(m.max()) for m in maps) or 1.0
    fig = new_figure(2.4 * len(models) + 1.2, 2.9)
    with styled(fig):
        axes = fig.subplots(1, len(models), squeeze=False)[0]
        image = None
        for ax, (name, _, colour), grid in zip(axes, models, maps, strict=True):
            image = ax.imshow(grid, cmap="Blues", vmin=0, vmax=vmax)
            ax.set_title(label(name, 22), color=colour)
            ax.set_xticks([])
            ax.set_yticks([])
        if image is not None:
            fig.colorbar(image, ax=list(axes), shrink=0.8, label="mean |SHAP|")
        fig.suptitle("Where each model looks: mean |attribution| per pixel")
    return fig


# --------------------------------------------------------------------------- listing
def figure_specs(report: Any) -> list[tuple[str, Callable[[], Any], str, str, str]]:
    """The figures of this module for ``html.py``'s ``add(...)``.

    Parameters
    ----------
    report : ComparisonResult
        The comparison.

    Returns
    -------
    list of tuple
        ``(key, make, filename, title, caption)``; keys ``where_groups``,
        ``where_dependence``, ``where_summary``, ``where_heatmaps`` and
        ``where_waterfall_<i>`` (i: the student's position).
    """
    image = report.images_shape is not None
    specs: list[tuple[str, Callable[[], Any], str, str, str]] = [
        (
            "where_groups",
            partial(fidelity_groups, report),
            "where_fidelity_groups.png",
            "Fidelity by group",
            "Each student's fidelity within bands of the teacher's confidence and within each "
            "segment, with 95% Wilson score intervals.",
        ),
    ]
    if image:
        specs.append(
            (
                "where_heatmaps",
                partial(attribution_heatmaps, report),
                "where_heatmaps.png",
                "Attribution heatmaps",
                "Mean absolute SHAP value of each pixel, same colour scale for every model.",
            )
        )
    else:
        specs += [
            (
                "where_dependence",
                partial(dependence_plots, report),
                "where_dependence.png",
                "Dependence plots",
                "Each dot is one explained row: its attribution (for the class the teacher "
                "predicts) against the feature's value. Where the students' dots leave the "
                "teacher's (black), they use the feature differently.",
            ),
            (
                "where_summary",
                partial(attribution_summary, report),
                "where_summary.png",
                "Attribution summary",
                "Each dot is one explained row; colour is the feature's value (purple low, "
                "orange high). The grey band is the explainer's 95% noise band: the teacher "
                "explained twice differs by this much.",
            ),
        ]
    for i, name in enumerate(report.students):
        specs.append(
            (
                f"where_waterfall_{i}",
                partial(waterfalls, report, name),
                f"where_waterfall_student{i + 1}.png",
                f"Largest disagreements of {name}",
                "Teacher (left) and student (right) on the same rows: each bar is a feature's "
                "contribution to the probability of the teacher's class, from the base value "
                "(dotted) to the model's probability (solid).",
            )
        )
    return specs


# --------------------------------------------------------------------------- page
def where_context(report: Any, rendered: dict[str, Any], shown: int) -> dict[str, Any] | None:
    """The partial ``_where.html.j2``'s view of the report (plain data; no model read).

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    rendered : dict
        The report's figures (keys of :func:`figure_specs` among them).
    shown : int
        Disagreement rows listed per student.

    Returns
    -------
    dict or None
        ``warnings``, ``segments``, ``features`` (names of the top features whose values
        are listed), ``figures`` (this module's rendered figures by key) and
        ``students`` (per student: name, colour, lowest groups, failure region,
        group table rows, listed disagreements, waterfall figure); None without ``where``.
    """
    where = _where(report)
    if where is None:
        return None
    top = _top(report)[:4]
    values = where["values"]
    groups = where["groups"]
    frame = report.disagreements
    students = []
    for i, name in enumerate(report.students):
        mine = frame[frame["student"] == name].head(shown)
        rows = []
        for record in mine.to_dict(orient="records"):
            position = int(record["row"])
            record["feature_values"] = [_number(values[position, j]) for j in top]
            rows.append(record)
        students.append(
            {
                "name": name,
                "colour": student_colour(i),
                "lowest": where["lowest"].get(name, {}).get("any"),
                "lowest_segment": where["lowest"].get(name, {}).get("segment"),
                "region": where["failure_regions"].get(name),
                "groups": groups[groups["student"] == name].to_dict(orient="records")
                if len(groups)
                else [],
                "n_disagreements": int((frame["student"] == name).sum()),
                "disagreements": rows,
                "waterfall": rendered.get(f"where_waterfall_{i}"),
            }
        )
    return {
        "warnings": list(where["data_warnings"]),
        "segments": list(where["segments"]),
        "features": [report.feature_names[j] for j in top],
        "figures": {k: v for k, v in rendered.items() if k.startswith("where_")},
        "students": students,
        "row_ids_given": bool(where.get("row_ids_given")),
        "csv": True,  # report.writer writes disagreements.csv beside every index.html
    }
