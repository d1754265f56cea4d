"""The figures' shared look: palette, canvas, PNG encoding and literal labels.

Figures are built as ``Figure`` objects attached to an Agg canvas, never through
``pyplot``, so nothing here touches matplotlib's global state: no backend switch, no
open-figure registry, no leak into the caller's interactive session.

Conventions: the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies), the teacher always in black, each student in the same colour in every
figure; diverging weights in purple–orange, counts in blues; every figure has a title and
labelled axes. Text from data (feature, class and student names) is drawn literally:
``$`` is escaped so that matplotlib never reads a name as mathtext.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DIVERGING",
    "DPI",
    "MAX_LABEL",
    "MUTED",
    "NEGATIVE",
    "OKABE_ITO",
    "POSITIVE",
    "SEQUENTIAL",
    "TEACHER_COLOUR",
    "TOP_FEATURES",
    "class_colours",
    "finite",
    "interval",
    "label",
    "new_figure",
    "student_colour",
    "styled",
    "text_colour",
    "to_png",
    "view_of",
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


def new_figure(width: float, height: float) -> Figure:
    """A new figure on its own Agg canvas, with the report's style.

    Parameters
    ----------
    width, height : float
        Size in inches.

    Returns
    -------
    Figure
        Constrained layout, attached to a ``FigureCanvasAgg``.
    """
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def styled(fig: Figure) -> Any:
    """Context manager applying the report's rcParams while a figure is drawn.

    Parameters
    ----------
    fig : Figure
        The figure being drawn (the style is the same for every figure).

    Returns
    -------
    context manager
        ``matplotlib.rc_context`` with the report's rcParams.
    """
    return matplotlib.rc_context(_STYLE)


def to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` at :data:`DPI` (the pHYs chunk records the resolution).

    Parameters
    ----------
    fig : Figure
        A drawn figure.

    Returns
    -------
    bytes
        The PNG file, white background.
    """
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def label(text: Any, limit: int = MAX_LABEL) -> str:
    """A name as matplotlib should draw it: literal (``$`` escaped), cut at ``limit``.

    Parameters
    ----------
    text : object
        The name (converted with ``str``; newlines become spaces).
    limit : int
        Characters kept; a longer name ends in "…".

    Returns
    -------
    str
        The text to draw.
    """
    text = str(text).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def model_label(text: Any, width: int) -> str:
    """A model's name as a figure draws it: whole, wrapped onto lines of about ``width``
    characters (a name is never cut: the reader must know which model a mark is; only
    past 3 lines is the rest cut, "…").

    Parameters
    ----------
    text : object
        The name.
    width : int
        Characters per line.

    Returns
    -------
    str
        The text to draw, literal (``$`` escaped).
    """
    lines = textwrap.wrap(str(text).replace("\n", " "), width, break_long_words=True) or [""]
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1][: max(width - 1, 1)] + "…"
    return "\n".join(lines).replace("$", r"\$")


def student_colour(index: int) -> str:
    """The colour of the ``index``-th student (the teacher is black).

    Parameters
    ----------
    index : int
        The student's position in the report.

    Returns
    -------
    str
        An Okabe–Ito colour (cycling past the seventh student).
    """
    return OKABE_ITO[index % (len(OKABE_ITO) - 1)]


def class_colours(n: int) -> list[str]:
    """One colour per class: Okabe–Ito, then greys when there are more classes.

    Parameters
    ----------
    n : int
        Number of classes.

    Returns
    -------
    list of str
        ``n`` matplotlib colours.
    """
    colours = list(OKABE_ITO[:-1])
    if n <= len(colours):
        return colours[:n]
    greys = [f"{g:.2f}" for g in np.linspace(0.15, 0.85, n - len(colours))]
    return colours + greys


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (None and NaN are not).

    Parameters
    ----------
    value : object
        Anything.

    Returns
    -------
    bool
    """
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def interval(ci: Sequence[float] | None) -> tuple[float, float] | None:
    """A confidence interval as two floats, or None when it is missing or not finite.

    Parameters
    ----------
    ci : sequence of two floats or None
        ``(low, high)``.

    Returns
    -------
    tuple of float or None
    """
    if ci is None or len(ci) != 2 or not (finite(ci[0]) and finite(ci[1])):
        return None
    return float(ci[0]), float(ci[1])


def text_colour(value: float, vmax: float) -> str:
    """Black or white text, whichever reads on a cell of ``value`` in a 0..vmax colour map.

    Parameters
    ----------
    value, vmax : float
        The cell's value and the colour map's maximum.

    Returns
    -------
    str
        ``"white"`` on dark cells (above 60% of ``vmax``), else ``"black"``.
    """
    return "white" if vmax > 0 and value / vmax > 0.6 else "black"


def view_of(result: Any) -> Mapping[str, Any]:
    """A student's readable view, the only thing white-box figures draw from.

    Parameters
    ----------
    result : StudentResult
        One student of the comparison.

    Returns
    -------
    mapping
        ``result.view``; ``{"view": None}`` when it has none.
    """
    view: Mapping[str, Any] | None = result.view
    return view if view is not None else {"view": None}
