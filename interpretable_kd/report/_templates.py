"""The page template's environment: jinja2 with autoescape, and the number formats.

Every number in the HTML tables goes through one of these filters, so the page has one
format per kind of number (fixed decimals, intervals, percentages).
"""

from __future__ import annotations

import json
import math
from typing import Any

import jinja2
import numpy as np

__all__ = ["environment"]


def _number(value: Any, digits: int = 3) -> str:
    """The one format of every number in the tables: fixed ``digits`` decimals.

    Parameters
    ----------
    value : object
        None, bool, int, float or anything else.
    digits : int
        Decimals of a float.

    Returns
    -------
    str
        "—" for None and non-finite floats, "yes"/"no" for booleans.
    """
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
    """A confidence interval as ``[low, high]`` text.

    Parameters
    ----------
    ci : sequence of two numbers or None
        ``(low, high)``.
    digits : int
        Decimals.

    Returns
    -------
    str
        Empty when the interval is missing.
    """
    if ci is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return ""
    return f"[{_number(ci[0], digits)}, {_number(ci[1], digits)}]"


def _percent(value: Any) -> str:
    """A share as a percentage with one decimal.

    Parameters
    ----------
    value : float or None
        A share in [0, 1].

    Returns
    -------
    str
        "—" for None or a non-finite value.
    """
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{100 * float(value):.1f}%"


def _plain(value: Any) -> str:
    """A configuration value as short text (JSON for lists and dicts).

    Parameters
    ----------
    value : object
        A configuration value.

    Returns
    -------
    str
    """
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return _number(value) if isinstance(value, float) else str(value)


def environment() -> jinja2.Environment:
    """The jinja2 environment: package templates, autoescape on, strict undefined.

    Returns
    -------
    jinja2.Environment
        With the filters ``num``, ``ci``, ``pct`` and ``plain``.
    """
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
