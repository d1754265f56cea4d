"""Figure pieces that must stay bounded: titles wrapped to the figure's width, and the
summary of an agreement matrix with too many classes to draw.

:func:`fitted_suptitle` wraps a figure title until its drawn extent fits inside the
figure (a long title on a narrow figure was cut at both edges of the PNG).
:func:`top_confusions` and :func:`confusion_summary` replace the k x k agreement
matrices beyond :data:`~interpretable_kd._defaults.MAX_MATRIX_CLASSES` classes: a matrix
of 1,000 classes drew a million cell labels and needed more than 10 GB to save.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from .._defaults import TOP_CONFUSIONS
from ._style import MUTED, label, model_label, student_colour
from ._style import new_figure as _figure
from ._style import styled as _styled

__all__ = ["confusion_summary", "fitted_suptitle", "top_confusions"]

#: Share of the figure's width a title may take (constrained layout keeps a small pad).
TITLE_WIDTH_SHARE = 0.96


def fitted_suptitle(fig: Figure, text: str) -> Text:
    """``fig.suptitle(text)``, its lines wrapped until the drawn title fits the figure.

    Each paragraph (line of ``text``) is re-wrapped at fewer characters until the
    title's window extent is at most ``TITLE_WIDTH_SHARE`` of the figure's width.

    Parameters
    ----------
    fig : Figure
        A figure on an Agg canvas, drawn inside the report's style.
    text : str
        The title; newlines separate paragraphs.

    Returns
    -------
    Text
        The title artist.
    """
    title = fig.suptitle(text)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    limit = TITLE_WIDTH_SHARE * fig.bbox.width
    paragraphs = text.split("\n")
    chars = max(len(p) for p in paragraphs)
    while title.get_window_extent(renderer).width > limit and chars > 12:
        chars = max(12, int(chars * 0.9))
        title.set_text("\n".join(textwrap.fill(p, chars) for p in paragraphs))
    return title


def top_confusions(counts: np.ndarray, top: int = TOP_CONFUSIONS) -> list[tuple[int, int, int]]:
    """The ``top`` most frequent disagreements of an agreement matrix.

    Parameters
    ----------
    counts : ndarray of shape (k, k)
        ``counts[i, j]``: rows where the teacher predicts class i and the student class j.
    top : int
        Disagreements kept at most.

    Returns
    -------
    list of (int, int, int)
        ``(teacher class i, student class j, count)`` for off-diagonal cells with a
        positive count, largest first (ties: smaller i, then smaller j), at most ``top``.
        Cost O(k²) time and a few float64 copies of the matrix (8 MB each for k = 1,000).
    """
    off = np.array(counts, dtype=np.float64)
    np.fill_diagonal(off, 0.0)
    flat = off.ravel()
    n = min(int(top), int(np.count_nonzero(flat > 0)))
    if n == 0:
        return []
    # The n-th largest count, then every larger cell and the first cells equal to it.
    threshold = np.partition(flat, flat.size - n)[flat.size - n]
    above = np.flatnonzero(flat > threshold)
    tied = np.flatnonzero(flat == threshold)[: n - len(above)]
    candidates = np.concatenate([above, tied])
    # Order by count descending, then by position (ties: smaller i, then smaller j).
    order = candidates[np.lexsort((candidates, -flat[candidates]))]
    k = off.shape[1]
    return [(int(p // k), int(p % k), int(flat[p])) for p in order if flat[p] > 0]


def confusion_summary(report: Any, top: int = TOP_CONFUSIONS) -> Figure:
    """The agreement matrices of many classes, summarised: one bar chart per student of
    its ``top`` most frequent disagreements (teacher's class -> student's class).

    Parameters
    ----------
    report : ComparisonResult
        The comparison.
    top : int
        Disagreements shown per student.

    Returns
    -------
    Figure
        Horizontal bars: the count of each disagreement, labelled with the share of the
        teacher's class it takes. Its size does not grow with the number of classes.
    """
    names = list(report.students)
    k = len(report.class_names)
    columns = min(2, len(names))
    rows = -(-len(names) // columns)
    found = {
        name: top_confusions(np.asarray(r.agreement_matrix), top)
        for name, r in report.students.items()
    }
    bars = max(3, *(len(p) for p in found.values()))
    fig = _figure(5.2 * columns + 0.6, rows * (0.3 * bars + 1.4) + 1.0)
    with _styled(fig):
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax in axes.flat[len(names) :]:
            ax.set_visible(False)
        for index, (ax, (name, result)) in enumerate(
            zip(axes.flat, report.students.items(), strict=False)
        ):
            totals = np.asarray(result.agreement_matrix, dtype=np.float64).sum(axis=1)
            pairs = found[name]
            ax.set_title(f"{model_label(name, 30)}\nfidelity {result.fidelity:.3f}")
            if not pairs:
                ax.text(0.5, 0.5, "no disagreements", ha="center", va="center", color=MUTED)
                ax.set_axis_off()
                continue
            y = (bars - 1) - np.arange(len(pairs))
            values = [c for _, _, c in pairs]
            ax.barh(y, values, color=student_colour(index), height=0.7)
            ticks = [
                f"{label(report.class_names[i], 16)} → {label(report.class_names[j], 16)}"
                for i, j, _ in pairs
            ]
            ax.set_yticks(y, ticks)
            for yi, (i, _, c) in zip(y, pairs, strict=True):
                share = c / totals[i] if totals[i] > 0 else 0.0
                ax.text(c, yi, f" {c} ({100 * share:.0f}%)", va="center", fontsize=7)
            ax.set_xlim(0, max(values) * 1.3)
            ax.set_ylim(-0.6, bars - 0.4)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            ax.set_xlabel("rows (share of the teacher's class)")
            ax.spines[["top", "right"]].set_visible(False)
        fitted_suptitle(
            fig,
            f"Most frequent disagreements (teacher's class → student's class)\n{k} classes: "
            "too many for a matrix; all counts are in metrics.json",
        )
    return fig
