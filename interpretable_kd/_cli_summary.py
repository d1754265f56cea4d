"""What ``interpretable-kd demo`` and ``report`` print when the report is written.

The numbers are read from the report's ``metrics.json`` content
(``DistillationReport.to_dict()``), so what the terminal shows is what the file says:
per student, fidelity with its interval, Cohen's kappa, the majority-class baseline, the
worst class and its fidelity, faithful or not, and the chosen temperature; and the preset
with its budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["summary"]


def _number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or ``"n/a"`` when missing or not finite.

    Parameters
    ----------
    value : float or None
    digits : int

    Returns
    -------
    str
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _interval(ci: Any) -> str:
    """``" [low, high]"``, or ``""`` when the interval is missing.

    Parameters
    ----------
    ci : list of float or None

    Returns
    -------
    str
    """
    if ci is None or len(ci) != 2 or any(v is None or not np.isfinite(v) for v in ci):
        return ""
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def budget_line(budget: dict[str, Any]) -> str:
    """The preset and what it spent, one line.

    Parameters
    ----------
    budget : dict
        ``metrics.json``'s ``budget`` entry.

    Returns
    -------
    str
    """
    refits = budget.get("n_refits")
    return (
        f"  preset {budget.get('preset')}: {budget.get('explain_rows')} rows explained, "
        f"{budget.get('max_background')} background rows, {budget.get('n_permutations')} "
        f"orderings, {budget.get('n_explanations')} explanation runs, "
        f"{budget.get('n_bootstrap')} bootstrap resamples, {refits} "
        f"refit{'' if refits == 1 else 's'} (intervals over {budget.get('interval_kind')})"
    )


def student_line(label: str, entry: dict[str, Any], width: int) -> str:
    """One student's headline numbers, one line.

    Parameters
    ----------
    label : str
        The student's name in the report.
    entry : dict
        Its ``metrics.json`` entry.
    width : int
        Column width of the names.

    Returns
    -------
    str
        E.g. ``"  soft tree  fidelity 0.962 [0.95, 0.97]  kappa 0.91  majority 0.56  worst
        class 'no' 0.940  faithful  T 1"``.
    """
    text = (
        f"  {label:<{width}}  fidelity {_number(entry.get('fidelity'))}"
        f"{_interval(entry.get('fidelity_ci'))}"
    )
    if "kappa" in entry:
        text += (
            f"  kappa {_number(entry.get('kappa'))}"
            f"  majority baseline {_number(entry.get('majority_baseline'))}"
            f"  worst class {entry.get('worst_class')!r} "
            f"{_number(entry.get('worst_class_fidelity'))}"
        )
        faithful = entry.get("faithful")
        if faithful is not None:
            text += "  faithful" if faithful else "  NOT faithful"
    if entry.get("accuracy") is not None:
        text += f"  accuracy {_number(entry['accuracy'])}"
    if entry.get("temperature") is not None:
        text += f"  T {entry['temperature']:g}"
    return text


def summary(report: Any, path: Path, seconds: float) -> str:
    """What a finished run prints: where the report is, the budget, each student.

    Parameters
    ----------
    report : DistillationReport
    path : pathlib.Path
        The report's ``index.html``.
    seconds : float
        Wall time of the run.

    Returns
    -------
    str
        Several lines, no trailing newline.
    """
    metrics = report.to_dict()
    lines = [f"Report written to {path}"]
    data, teacher = metrics["dataset"], metrics["teacher"]
    line = (
        f"  {data['name']}: {data['n_rows']} held-out rows, {data['n_features']} features; "
        f"teacher {teacher['kind']}"
    )
    if teacher.get("accuracy") is not None:
        line += f", accuracy {teacher['accuracy']:.3f}"
    lines.append(line)
    budget = metrics["budget"]
    lines.append(budget_line(budget))
    students = metrics["students"]
    width = max(len(name) for name in students)
    for name, entry in students.items():
        lines.append(student_line(name, entry, width))
        for reason in entry.get("unfaithful_reasons") or []:
            lines.append(f"  {'':<{width}}    why not: {reason}")
    if budget.get("warning"):
        lines.append(f"  budget: {budget['warning']}")
    n_figures = len(list((path.parent / "figures").glob("*.png")))
    files = [path.parent / "metrics.json"]
    if (path.parent / "disagreements.csv").is_file():
        files.append(path.parent / "disagreements.csv")
    lines.append(f"  also: {', '.join(map(str, files))}, {n_figures} figures in figures/")
    lines.append(f"  done in {seconds:.1f} s")
    return "\n".join(lines)
