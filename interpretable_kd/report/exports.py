"""Tables of a report written as files beside ``index.html``.

:func:`disagreements_csv` is ``disagreements.csv``: every row where a student and the
teacher disagree (``report.disagreements``), one line per (student, row), largest gap
first within each student, with the row's id and its feature values in the data's units.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DISAGREEMENTS_CSV", "disagreements_csv"]

#: File name of the disagreement table beside ``index.html``.
DISAGREEMENTS_CSV = "disagreements.csv"


def disagreements_csv(report: Any) -> str:
    """The text of ``disagreements.csv``.

    Parameters
    ----------
    report : ComparisonResult
        The comparison (its ``disagreements`` DataFrame).

    Returns
    -------
    str
        A header line and one line per disagreeing (student, row); UTF-8 text, ``\\n``
        line ends, no index column.
    """
    return str(report.disagreements.to_csv(index=False, lineterminator="\n"))
