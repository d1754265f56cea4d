"""The HTML report: one self-contained ``index.html``, its figures and ``metrics.json``.

:func:`save_report` writes, into one directory,

* ``index.html``: inline CSS, every figure embedded as a PNG ``data:`` URI, no script and
  no link to anything outside the file, so that it opens offline and can be attached to
  an audit as is;
* ``figures/*.png``: the same figures as files (:data:`~.figures.DPI` dpi);
* ``metrics.json``: :meth:`DistillationReport.to_dict` (schema_version 1).

The numbers shown in the HTML are read from the same dictionary that ``metrics.json``
holds, so the two cannot disagree. Templates live in ``templates/`` and are rendered with
autoescaping on: names from the data (features, classes, students) are always escaped
and never marked safe.

Writing is atomic: everything is built in a temporary directory beside the target (same
file system) and renamed into place. A previous report there (a directory with a
``metrics.json`` carrying ``schema_version``) is replaced; any other non-empty directory
is refused with a :class:`~interpretable_kd.exceptions.ReportError`. If anything fails on
the way, the temporary directory is removed and an earlier report stays as it was.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from ..exceptions import ReportError
from . import figures

__all__ = ["RenderedFigure", "check_output_directory", "render_html", "save_report"]

#: Disagreement rows shown per student (the first ones, which carry top features).
MAX_DISAGREEMENTS_SHOWN = 10
#: Students below this fidelity get a warning in the summary (from_models' default).
LOW_FIDELITY = 0.9
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
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


# --------------------------------------------------------------------------- formatting
def _number(value: Any, digits: int = 3) -> str:
    """The one format of every number in the tables: fixed ``digits`` decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return "—"
        return f"{float(value):.{digits}f}"
    return str(value)


def _interval(ci: Any, digits: int = 3) -> str:
    if ci is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return ""
    return f"[{_number(ci[0], digits)}, {_number(ci[1], digits)}]"


def _percent(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{100 * float(value):.1f}%"


def _plain(value: Any) -> str:
    """A configuration value as short text (JSON for lists and dicts)."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return _number(value) if isinstance(value, float) else str(value)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "student"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("interpretable_kd.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["ci"] = _interval
    env.filters["pct"] = _percent
    env.filters["plain"] = _plain
    return env


# --------------------------------------------------------------------------- figures
def _render_figures(report: Any) -> dict[str, Any]:
    """Every figure of the report, drawn and encoded.

    Returns ``{key: RenderedFigure, ..., "students": {name: {slot: RenderedFigure}}}``:
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
        """Draw ``make()`` (None: nothing to draw) and file it under ``where``."""
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
    add(
        "agreement_matrices",
        partial(figures.agreement_matrices, report),
        "agreement_matrices.png",
        "Agreement matrices",
        "Rows: the class the teacher predicts; columns: the class the student predicts. "
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
    names, classes = report.feature_names, report.class_names
    for i, (name, result) in enumerate(report.students.items()):
        stem = f"student{i + 1}_{_slug(name)}"
        kind = result.kind
        if kind == "logistic_regression" and hasattr(figures._inner(result.model), "coef_"):
            add(
                "whitebox",
                partial(figures.logistic_coefficients, result, names, classes),
                f"{stem}_coefficients.png",
                "Coefficients",
                "Coefficients in log-odds per unit of each feature as the student sees it; "
                "beside each bar the odds ratio exp(coefficient).",
                student=name,
            )
        elif kind == "soft_decision_tree":
            add(
                "whitebox",
                partial(figures.soft_tree_diagram, result, classes, names),
                f"{stem}_tree.png",
                "Tree diagram",
                "Each inner node shows its three largest effective weights; a row goes "
                "'yes' with probability sigmoid(Σ w·x + b). Each leaf shows its class "
                "distribution and the training rows whose most probable leaf it is.",
                student=name,
            )
            if report.images_shape is not None:
                add(
                    "filters",
                    partial(figures.tree_filters, result, tuple(report.images_shape)),
                    f"{stem}_filters.png",
                    "Node filters as images",
                    "Each inner node's effective weights drawn on the image grid.",
                    student=name,
                )
        elif kind == "shallow_mlp":
            add(
                "whitebox",
                partial(figures.mlp_hidden_weights, result, names, classes),
                f"{stem}_hidden_weights.png",
                "Hidden-unit weights",
                "Top: what each hidden unit looks at (input weights). Bottom: how each unit "
                "moves each class's logit (output weights).",
                student=name,
            )
    return out


# --------------------------------------------------------------------------- context
def _student_context(
    report: Any, metrics: dict[str, Any], rendered: dict[str, Any]
) -> list[dict[str, Any]]:
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
    """Logistic students: every feature's coefficient (and odds ratio when binary)."""
    model = figures._inner(result.model)
    if result.kind != "logistic_regression" or not hasattr(model, "coef_"):
        return None
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(getattr(model, "intercept_", [np.nan]), dtype=float))
    binary = coef.shape[0] == 1
    order = np.argsort(-np.abs(coef).max(axis=0), kind="stable")
    rows = []
    for j in order:
        row: dict[str, Any] = {"feature": report.feature_names[j]}
        if binary:
            row["coefficient"] = float(coef[0, j])
            row["odds_ratio"] = float(np.exp(coef[0, j]))
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
    }


def _tree_rows(result: Any) -> dict[str, Any] | None:
    """Soft-tree students: node and leaf tables as the student reports them."""
    if result.kind != "soft_decision_tree":
        return None
    model = figures._inner(result.model)
    out: dict[str, Any] = {"nodes": None, "leaves": None, "leaf_classes": []}
    with contextlib.suppress(Exception):  # tables need the training-time statistics
        out["nodes"] = model.node_table(top_k=3).to_dict(orient="records")
    with contextlib.suppress(Exception):
        leaves = model.leaf_table()
        out["leaf_classes"] = [c for c in leaves.columns if str(c).startswith("p(")]
        out["leaves"] = leaves.to_dict(orient="records")
    if out["nodes"] is None and out["leaves"] is None:
        return None
    return out


def _reproducibility(report: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    config = metrics.get("config") or {}
    return {
        "seed": config.get("random_state"),
        "fingerprint": report.dataset.get("fingerprint"),
        "config": sorted(config.items()),
        "versions": sorted((metrics.get("versions") or {}).items()),
    }


def _context(report: Any, metrics: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
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
        "version": (metrics.get("versions") or {}).get("interpretable_kd", ""),
        "visible_rows": VISIBLE_ROWS,
    }


def render_html(report: Any, metrics: dict[str, Any], rendered: dict[str, Any]) -> str:
    """The text of ``index.html`` (one self-contained page)."""
    template = _environment().get_template("report.html.j2")
    return template.render(**_context(report, metrics, rendered))


# --------------------------------------------------------------------------- writing
def _is_report(path: Path) -> bool:
    """A directory holding a previous report: ``metrics.json`` with a schema_version."""
    try:
        with open(path / "metrics.json", encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and "schema_version" in content


def check_output_directory(directory: str | os.PathLike[str]) -> Path:
    """Raise a ReportError unless a report may be written to ``directory``.

    Allowed: a path that does not exist yet, an empty directory, or a directory holding an
    earlier report (it will be replaced). Refused: a file, or a non-empty directory that
    is not a report.
    """
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ReportError(
            f"Cannot write a report to {str(path)!r}: it is a file, not a directory. "
            "Choose another output directory."
        )
    if path.is_dir() and any(path.iterdir()) and not _is_report(path):
        raise ReportError(
            f"Refusing to write a report into {str(path)!r}: the directory is not empty and "
            "does not hold an earlier report (no metrics.json with a schema_version), so "
            "its files could be lost. Choose a new or empty directory, or remove it first."
        )
    return path


def _write_tree(report: Any, staging: Path) -> None:
    metrics = report.to_dict()
    rendered = _render_figures(report)
    figure_dir = staging / "figures"
    figure_dir.mkdir()
    everything = [v for k, v in rendered.items() if k != "students"] + [
        fig for per in rendered["students"].values() for fig in per.values()
    ]
    for fig in everything:
        (figure_dir / fig.filename).write_bytes(fig.png)
    with open(staging / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, allow_nan=False, indent=2, sort_keys=False)
        handle.write("\n")
    (staging / "index.html").write_text(render_html(report, metrics, rendered), encoding="utf-8")


def save_report(report: Any, directory: str | os.PathLike[str]) -> Path:
    """Write the report into ``directory`` atomically; returns the path of index.html.

    Raises:
        ReportError: ``directory`` is a file, or a non-empty directory that holds no
            earlier report.
    """
    target = check_output_directory(directory).absolute()
    parent = target.parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    aside: Path | None = None  # where an earlier report waits until the new one is in place
    try:
        _write_tree(report, staging)
        os.chmod(staging, 0o755)
        check_output_directory(target)  # again: it may have changed while we worked
        if target.exists() and any(target.iterdir()):
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.replace(target, aside / "report")
        elif target.exists():
            target.rmdir()
        try:
            os.replace(staging, target)
        except OSError:
            if aside is not None and (aside / "report").exists():
                os.replace(aside / "report", target)  # put the earlier report back
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if aside is not None and not (aside / "report").exists():
            shutil.rmtree(aside, ignore_errors=True)
        for path in created:  # directories made for this report only, innermost first
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return target / "index.html"
