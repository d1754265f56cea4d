"""The summary's words and the ``metrics.json`` entries of the headline numbers.

Reads only the comparison result (each student's ``headline``, ``features_check``,
``temperature`` and the ``config``): fidelity that cannot hide a class, the fair
attribution check, the budget and the kind of every interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["budget_entry", "headline_entry", "interval_label", "verdict_text"]

#: What each interval kind means, for the report.
INTERVAL_KINDS = {
    "rows": "95% percentile bootstrap over the test rows (the student's training "
    "randomness is not included)",
    "refits x rows": "95% nested bootstrap over the student's refits with other seeds and "
    "the test rows (training randomness included)",
}


def interval_label(kind: str | None, n_refits: int | None = None) -> str:
    """Words for an interval kind.

    Parameters
    ----------
    kind : str or None
        ``"rows"`` or ``"refits x rows"``.
    n_refits : int or None
        Training runs behind a ``"refits x rows"`` interval.

    Returns
    -------
    str
    """
    text = INTERVAL_KINDS.get(kind or "rows", str(kind))
    if kind == "refits x rows" and n_refits:
        text += f"; {n_refits} training runs"
    return text


def _pair(ci: Any) -> list[float] | None:
    """An interval as a list (None stays None).

    Parameters
    ----------
    ci : tuple or None

    Returns
    -------
    list of float or None
    """
    return None if ci is None else [float(ci[0]), float(ci[1])]


def headline_entry(r: Any, config: dict[str, Any]) -> dict[str, Any]:
    """A student's headline numbers for ``metrics.json`` (added to its entry).

    Parameters
    ----------
    r : StudentResult
        The student.
    config : dict
        The comparison's configuration.

    Returns
    -------
    dict
        ``majority_baseline``, ``majority_class``, ``kappa``/``kappa_ci``,
        ``balanced_fidelity``/``_ci``, ``worst_class``, ``worst_class_fidelity``/``_ci``,
        ``positive_class``, ``positive_class_fidelity``, ``faithful``,
        ``unfaithful_reasons``, ``interval`` (kind, n_refits, words),
        ``fidelity_ci_rows`` (rows only, for comparison), ``fidelity_refit_mean``,
        ``temperature``, ``temperature_search`` (records) and
        ``uses_teacher_features`` (the attribution check); empty without a headline.
    """
    head = r.headline
    out: dict[str, Any] = {}
    if head:
        out = {
            "majority_baseline": head["majority_baseline"],
            "majority_class": head["majority_class"],
            "kappa": head["kappa"],
            "kappa_ci": _pair(head["kappa_ci"]),
            "balanced_fidelity": head["balanced_fidelity"],
            "balanced_fidelity_ci": _pair(head["balanced_fidelity_ci"]),
            "worst_class": head["worst_class"],
            "worst_class_fidelity": head["worst_class_fidelity"],
            "worst_class_fidelity_ci": _pair(head["worst_class_fidelity_ci"]),
            "worst_class_rows": head["worst_class_rows"],
            "positive_class": head["positive_class"],
            "positive_class_fidelity": head["positive_class_fidelity"],
            "positive_class_rows": head["positive_class_rows"],
            "faithful": head.get("faithful"),
            "unfaithful_reasons": head.get("unfaithful_reasons", []),
            "interval": {
                "kind": head["interval_kind"],
                "n_refits": head["n_refits"],
                "description": interval_label(head["interval_kind"], head["n_refits"]),
            },
            "fidelity_ci_rows": _pair(head.get("fidelity_ci_rows")),
            "fidelity_refit_mean": head["fidelity_refit_mean"],
        }
    out["temperature"] = r.temperature
    search = r.temperature_search
    # fit_seconds is wall time: out of metrics.json, which must be byte-identical per seed
    out["temperature_search"] = (
        None
        if search is None
        else search.drop(columns="fit_seconds", errors="ignore").to_dict(orient="records")
    )
    out["uses_teacher_features"] = r.features_check
    return out


def budget_entry(config: dict[str, Any]) -> dict[str, Any]:
    """The audit budget for ``metrics.json`` and the summary.

    Parameters
    ----------
    config : dict
        The comparison's configuration.

    Returns
    -------
    dict
        ``preset``, ``explain_rows``, ``max_background``, ``n_permutations``,
        ``n_explanations``, ``n_bootstrap``, ``n_refits``, ``interval_kind``,
        ``refit_note`` and ``warning`` (None when the budget is enough).
    """
    keys = (
        "preset",
        "explain_rows",
        "max_background",
        "n_permutations",
        "n_explanations",
        "n_bootstrap",
        "n_refits",
        "interval_kind",
        "refit_note",
    )
    return {**{k: config.get(k) for k in keys}, "warning": config.get("budget_warning")}


def _pct_ci(value: float, ci: Any) -> str:
    """``"94.2% (95% CI 93.1–95.0)"``, or without the interval when it is missing.

    Parameters
    ----------
    value : float
    ci : tuple or None

    Returns
    -------
    str
    """
    text = f"{100 * value:.1f}%"
    if ci is not None and np.all(np.isfinite(ci)):
        text += f" (95% CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f})"
    return text


def verdict_text(report: Any, r: Any) -> str:
    """The summary sentence of one student (see ``DistillationReport.verdict``).

    Parameters
    ----------
    report : DistillationReport
        The report (config, teacher, top-k).
    r : StudentResult
        The student.

    Returns
    -------
    str
    """
    head = r.headline or {}
    parts = []
    if head:
        faithful = head.get("faithful", True)
        parts.append(
            ("is faithful to the teacher: it" if faithful else "is not faithful to the teacher: it")
            + f" agrees with it on {_pct_ci(r.fidelity, r.fidelity_ci)} of test rows"
            f" (interval over {'refits and rows' if head['n_refits'] > 1 else 'rows only'}),"
            f" where a constant student predicting {head['majority_class']!r} would score "
            f"{100 * head['majority_baseline']:.1f}%; Cohen's kappa {head['kappa']:.2f}"
            + (
                f" (95% CI {head['kappa_ci'][0]:.2f}–{head['kappa_ci'][1]:.2f})"
                if np.all(np.isfinite(head["kappa_ci"]))
                else ""
            )
        )
        if head["positive_class"] is not None and head["positive_class_fidelity"] is not None:
            positive = head["positive_class"]
            parts.append(
                f"it agrees on {100 * head['positive_class_fidelity']:.1f}% of the "
                f"{head['positive_class_rows']} rows the teacher flags as {positive!r}"
            )
        parts.append(
            f"its worst class is {head['worst_class']!r} at "
            f"{_pct_ci(head['worst_class_fidelity'], head['worst_class_fidelity_ci'])} and "
            f"its balanced fidelity {100 * head['balanced_fidelity']:.1f}%"
        )
        if not faithful and head.get("unfaithful_reasons"):
            parts.append("not faithful because " + " and ".join(head["unfaithful_reasons"]))
    else:
        parts.append(
            f"agrees with the teacher on {_pct_ci(r.fidelity, r.fidelity_ci)} of test rows"
        )
    check = r.features_check
    if check is not None:
        shares = (
            f"top-{report.top_k} feature agreement {check['student']:.2f} "
            f"[{check['student_ci'][0]:.2f}, {check['student_ci'][1]:.2f}] against the "
            f"explainer's noise floor {check['floor']:.2f} "
            f"[{check['floor_ci'][0]:.2f}, {check['floor_ci'][1]:.2f}]"
        )
        if check["overlaps"]:
            parts.append(
                f"it uses the teacher's features as far as the explainer can tell ({shares})"
            )
        else:
            parts.append(f"it does not clearly use the teacher's features ({shares})")
    elif r.agreement is not None:
        share = r.agreement["feature_agreement"]["mean"]
        parts.append(
            f"it shares on average {100 * share:.0f}% of the teacher's "
            f"top-{report.top_k} features per row"
        )
    elif not report.teacher["attributions_available"]:
        parts.append("the teacher is known only by its scores, so its features cannot be compared")
    if r.accuracy is not None and "accuracy" in report.teacher:
        gap = 100 * (r.accuracy - report.teacher["accuracy"])
        parts.append(
            f"its accuracy is {100 * r.accuracy:.1f}% ({gap:+.1f} points against the teacher)"
        )
    return "; ".join(parts) + "."
