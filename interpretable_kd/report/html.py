"""The HTML report: one self-contained ``index.html``, its figures and ``metrics.json``.

:func:`render_report` turns a report into the files :mod:`.writer` saves:

* ``index.html``: inline CSS, every figure embedded as a PNG ``data:`` URI, one small
  inline script (click a table header to sort its rows; the page reads the same without
  it) and no link to anything outside the file, so that it opens offline and can be
  attached to an audit as is;
* ``figures/*.png``: the same figures as files (:data:`~._style.DPI` dpi);
* ``metrics.json``: :meth:`DistillationReport.to_dict` (schema_version 1).

The numbers shown in the HTML are read from the same dictionary that ``metrics.json``
holds, and the white-box parts from each student's readable view (plain data the model
produced), so the page never reads a model. Templates live in ``templates/`` and are
rendered with autoescaping on: names from the data (features, classes, students) are
always escaped and never marked safe.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._defaults import LOW_FIDELITY, MAX_MATRIX_CLASSES
from . import figures, views, whitebox
from ._output import check_output_directory
from ._templates import environment
from ._verdict import budget_entry, interval_label

__all__ = [
    "LOW_FIDELITY",
    "RenderedFigure",
    "RenderedReport",
    "check_output_directory",
    "render_html",
    "render_report",
]

#: Disagreement rows shown per student (the first ones, which carry top features).
MAX_DISAGREEMENTS_SHOWN = 10
#: Rows of a long per-feature table shown before the rest is folded away.
VISIBLE_ROWS = 15


@dataclass(frozen=True)
class RenderedFigure:
    """One figure of the report: file name, caption and PNG bytes."""

    filename: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:image/png;base64,...`` URI for an ``<img src>``.

        Returns
        -------
        str
        """
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _slug(text: str) -> str:
    """A file-name-safe version of a student's name.

    Parameters
    ----------
    text : str
        The name.

    Returns
    -------
    str
        Lower-case letters, digits and hyphens, at most 40 characters; "student" if empty.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "student"


# --------------------------------------------------------------------------- figures
def _render_figures(report: Any) -> dict[str, Any]:
    """Every figure of the report, drawn and encoded.

    The white-box figures of a student are those :data:`.whitebox.DRAWINGS` lists for its
    view's ``"view"`` key.

    Parameters
    ----------
    report : DistillationReport
        The report.

    Returns
    -------
    dict
        ``{key: RenderedFigure, ..., "students": {name: {slot: RenderedFigure}}}``:
        report-wide figures by key, each student's under its name.
    """
    out: dict[str, Any] = {"students": {}}

    def add(
        where: str,
        make: Callable[[], Any],
        filename: str,
        title: str,
        caption: str,
        student: str | None = None,
    ) -> None:
        """Draw ``make()`` (None: nothing to draw) and file it under ``where``.

        Parameters
        ----------
        where : str
            The figure's key (or slot, for a student's figure).
        make : callable
            Returns a Figure or None.
        filename, title, caption : str
            As shown on the page.
        student : str or None
            The student the figure belongs to.
        """
        fig = make()
        if fig is None:
            return
        rendered = RenderedFigure(filename, title, caption, figures.to_png(fig))
        fig.clear()
        if student is None:
            out[where] = rendered
        else:
            out["students"].setdefault(student, {})[where] = rendered

    add(
        "accuracy_fidelity",
        partial(figures.accuracy_fidelity, report),
        "accuracy_fidelity.png",
        "Accuracy and fidelity",
        "Points are the estimates on the report's rows, bars their 95% percentile bootstrap "
        "intervals. Fidelity is the share of rows where a student predicts the teacher's class.",
    )
    many = len(report.class_names) > MAX_MATRIX_CLASSES
    add(
        "agreement_matrices",
        partial(figures.agreement_matrices, report),
        "agreement_matrices.png",
        "Most frequent disagreements" if many else "Agreement matrices",
        f"With {len(report.class_names)} classes a matrix is unreadable: each bar is one "
        "disagreement (the teacher's class → the student's class) and its count of rows; "
        "the full matrices are in metrics.json."
        if many
        else "Rows: the class the teacher predicts; columns: the class the student predicts. "
        "Off-diagonal cells are disagreements.",
    )
    add(
        "global_importance",
        partial(figures.global_importance, report),
        "global_importance.png",
        "Global feature importance",
        "Mean absolute SHAP value of each feature for the class the teacher predicts, "
        "computed with the same explainer, background and rows for every model.",
    )
    add(
        "attribution_agreement",
        partial(figures.attribution_agreement, report),
        "attribution_agreement.png",
        "Attribution agreement per row",
        "Each dot is one explained row. The dashed line and band are the explainer's "
        "noise floor: the teacher explained twice with independent backgrounds and seeds. "
        "A student at the noise floor agrees with the teacher as well as the explainer "
        "agrees with itself.",
    )
    add(
        "distill_compare",
        partial(figures.distill_compare, report),
        "distill_compare.png",
        "Distill-and-Compare",
        "Per feature, mean |SHAP| of the mimic (distilled) student minus that of an outcome "
        "student of the same kind trained on the true labels only, with 95% bootstrap "
        "intervals; the ten largest differences per student.",
    )
    for spec in views.figure_specs(report):  # issue 13: where not to trust the students
        add(*spec)
    names, classes = report.feature_names, report.class_names
    for i, (name, result) in enumerate(report.students.items()):
        stem = f"student{i + 1}_{_slug(name)}"
        view = result.view or {"view": None}
        for drawing in whitebox.DRAWINGS.get(view["view"], ()):
            add(
                drawing.slot,
                partial(drawing.draw, result, names, classes, report.images_shape),
                f"{stem}_{drawing.suffix}.png",
                drawing.title,
                drawing.caption,
                student=name,
            )
    return out


# --------------------------------------------------------------------------- context
def _student_context(
    report: Any, metrics: dict[str, Any], rendered: dict[str, Any]
) -> list[dict[str, Any]]:
    """The template's view of every student.

    Parameters
    ----------
    report : DistillationReport
        The report.
    metrics : dict
        Its ``metrics.json`` content.
    rendered : dict
        The figures from :func:`_render_figures`.

    Returns
    -------
    list of dict
        One entry per student: names, numbers, figures, white-box tables, outcome panel and
        the first disagreement rows.
    """
    students: list[dict[str, Any]] = []
    disagreements = report.disagreements
    for name, result in report.students.items():
        entry: dict[str, Any] = {
            "name": name,
            "kind": result.kind,
            "colour": figures.student_colour(len(students)),
            "verdict": report.verdict(name),
            "metrics": metrics["students"][name],
            "figures": rendered["students"].get(name, {}),
            "complexity": result.complexity,
            "n_disagreements": int((disagreements["student"] == name).sum()),
        }
        entry["coefficients"] = _coefficient_rows(result, report)
        entry["tree"] = _tree_rows(result)
        entry["outcome"] = None
        if result.outcome is not None:
            panel = result.outcome
            importance = panel.get("importance")
            coefficients = panel.get("coefficients")
            if coefficients is not None:
                coefficients = coefficients.sort_values(
                    "difference", key=np.abs, ascending=False
                ).head(VISIBLE_ROWS)
            entry["outcome"] = {
                "kind": panel.get("outcome_kind"),
                "importance": None
                if importance is None
                else importance.head(VISIBLE_ROWS).to_dict(orient="records"),
                "n_significant": None
                if importance is None
                else int(importance["significant"].sum()),
                "n_features": None if importance is None else len(importance),
                "coefficients": None
                if coefficients is None
                else coefficients.to_dict(orient="records"),
            }
        shown = disagreements[disagreements["student"] == name].head(MAX_DISAGREEMENTS_SHOWN)
        entry["disagreements"] = shown.to_dict(orient="records")
        students.append(entry)
    return students


def _coefficient_rows(result: Any, report: Any) -> dict[str, Any] | None:
    """A ``"coefficients"`` view as table rows: every feature's coefficient per unit of
    the column (and odds ratio when binary) beside its coefficient per standard deviation
    (``coef_standardized``, when the view has it), largest per-standard-deviation
    |coefficient| first.

    Parameters
    ----------
    result : StudentResult
        One student; only its readable view is read.
    report : DistillationReport
        For the feature and class names.

    Returns
    -------
    dict or None
        ``binary``, ``positive_class``, ``intercept``, ``rows`` (``feature``,
        ``coefficient`` per unit, ``odds_ratio``, ``per_sd``, ``scale``, or ``per_class``),
        ``nonzero``, ``has_standardized``; None for any other view.
    """
    view = result.view or {"view": None}
    if view["view"] != "coefficients":
        return None
    coef = np.atleast_2d(np.asarray(view["coef"], dtype=float))
    intercept = np.atleast_1d(np.asarray(view["intercept"], dtype=float))
    binary = coef.shape[0] == 1
    has_standardized = view.get("coef_standardized") is not None
    per_sd = (
        np.atleast_2d(np.asarray(view["coef_standardized"], dtype=float))
        if has_standardized
        else coef
    )
    scale = np.asarray(view.get("x_scale", np.ones(coef.shape[1])), dtype=float)
    order = np.argsort(-np.abs(per_sd).max(axis=0), kind="stable")
    rows = []
    for j in order:
        row: dict[str, Any] = {"feature": report.feature_names[j]}
        if binary:
            row["coefficient"] = float(coef[0, j])
            row["odds_ratio"] = float(np.exp(coef[0, j]))
            row["per_sd"] = float(per_sd[0, j])
            row["scale"] = float(scale[j])
        else:
            row["per_class"] = [float(v) for v in coef[:, j]]
        rows.append(row)
    positive = report.class_names[1] if len(report.class_names) > 1 else "class 1"
    return {
        "binary": binary,
        "positive_class": positive,
        "intercept": [float(v) for v in intercept],
        "rows": rows,
        "nonzero": int(np.count_nonzero(coef)),
        "has_standardized": has_standardized,
    }


def _tree_rows(result: Any) -> dict[str, Any] | None:
    """A ``"soft_tree"`` view's node and leaf tables as rows.

    Parameters
    ----------
    result : StudentResult
        One student; only its readable view is read.

    Returns
    -------
    dict or None
        ``nodes`` and ``leaves`` (lists of row dicts, or None when the model had no
        training-time statistics) and ``leaf_classes`` (the ``p(...)`` columns); None for
        any other view, or when both tables are missing.
    """
    view = result.view or {"view": None}
    if view["view"] != "soft_tree":
        return None
    out: dict[str, Any] = {"nodes": None, "leaves": None, "leaf_classes": []}
    nodes, leaves = view.get("node_table"), view.get("leaf_table")
    if nodes is not None:
        out["nodes"] = nodes.to_dict(orient="records")
    if leaves is not None:
        out["leaf_classes"] = [c for c in leaves.columns if str(c).startswith("p(")]
        out["leaves"] = leaves.to_dict(orient="records")
    if out["nodes"] is None and out["leaves"] is None:
        return None
    return out


def _reproducibility(report: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to rerun the report.

    Parameters
    ----------
    report : DistillationReport
        The report.
    metrics : dict
        Its ``metrics.json`` content.

    Returns
    -------
    dict
        ``seed``, ``fingerprint``, sorted ``config`` and ``versions`` items.
    """
    config = metrics.get("config") or {}
    return {
        "seed": config.get("random_state"),
        "fingerprint": report.dataset.get("fingerprint"),
        "config": sorted(config.items()),
        "versions": sorted((metrics.get("versions") or {}).items()),
    }


def _context(report: Any, metrics: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """Everything the page template reads.

    Parameters
    ----------
    report : DistillationReport
        The report.
    metrics : dict
        Its ``metrics.json`` content.
    rendered : dict
        The figures from :func:`_render_figures`.

    Returns
    -------
    dict
        The template's variables.
    """
    teacher = metrics["teacher"]
    noise = metrics.get("explainer_noise_floor")
    agreement_metrics = [
        ("feature_agreement", f"top-{report.top_k} feature agreement"),
        ("rank_agreement", f"top-{report.top_k} rank agreement"),
        ("sign_agreement", f"top-{report.top_k} sign agreement"),
        ("rank_correlation", "rank correlation"),
        ("pairwise_rank_agreement", "pairwise rank agreement"),
        ("global_rank_correlation", "global rank correlation"),
    ]
    students = _student_context(report, metrics, rendered)
    return {
        "title": f"Distillation report: {report.dataset.get('name', 'data')}",
        "dataset": report.dataset,
        "extra": report.extra or {},
        "teacher": teacher,
        "teacher_attributions": bool(report.teacher.get("attributions_available"))
        and report.teacher_attributions is not None,
        "scores_only": not report.teacher.get("attributions_available", True),
        "students": students,
        "has_accuracy": teacher.get("accuracy") is not None,
        "has_attributions": any(s["metrics"]["attribution"].get("available") for s in students),
        "has_outcome": any(s["outcome"] is not None for s in students),
        "noise": noise,
        "agreement_metrics": agreement_metrics,
        "top_k": report.top_k,
        "figures": rendered,
        "images_shape": report.images_shape,
        "n_explained": (report.config or {}).get("explain_rows"),
        "n_bootstrap": (report.config or {}).get("n_bootstrap"),
        "reproducibility": _reproducibility(report, metrics),
        "max_disagreements": MAX_DISAGREEMENTS_SHOWN,
        "low_fidelity": LOW_FIDELITY,
        "budget": budget_entry(report.config or {}),
        "interval_words": interval_label(
            (report.config or {}).get("interval_kind"), (report.config or {}).get("n_refits")
        ),
        "version": (metrics.get("versions") or {}).get("interpretable_kd", ""),
        "visible_rows": VISIBLE_ROWS,
        "where": views.where_context(report, rendered, MAX_DISAGREEMENTS_SHOWN),
    }


def render_html(report: Any, metrics: dict[str, Any], rendered: dict[str, Any]) -> str:
    """The text of ``index.html`` (one self-contained page).

    Parameters
    ----------
    report : DistillationReport
        The report.
    metrics : dict
        Its ``metrics.json`` content (every number on the page is read from it).
    rendered : dict
        The figures from :func:`_render_figures`.

    Returns
    -------
    str
    """
    template = environment().get_template("report.html.j2")
    return template.render(**_context(report, metrics, rendered))


@dataclass(frozen=True)
class RenderedReport:
    """Everything a saved report holds, rendered and ready to write.

    Attributes
    ----------
    metrics : dict
        The ``metrics.json`` content (:meth:`DistillationReport.to_dict`).
    figures : list of RenderedFigure
        Every figure, report-wide ones first, then each student's.
    page : str
        The text of ``index.html``.
    """

    metrics: dict[str, Any]
    figures: list[RenderedFigure]
    page: str


def render_report(report: Any) -> RenderedReport:
    """Draw every figure and render the page of a report.

    Parameters
    ----------
    report : DistillationReport
        The report (its numbers, tables and readable views).

    Returns
    -------
    RenderedReport
        ``metrics.json`` content, figures and ``index.html`` text.
    """
    metrics = report.to_dict()
    rendered = _render_figures(report)
    everything = [v for k, v in rendered.items() if k != "students"] + [
        fig for per in rendered["students"].values() for fig in per.values()
    ]
    return RenderedReport(metrics, everything, render_html(report, metrics, rendered))
