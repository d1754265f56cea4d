"""One audit budget for the API and the command line: the named presets of
:data:`interpretable_kd._defaults.PRESETS`, resolved with any explicit overrides."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .._defaults import PRESETS
from .._validation import check_choice, check_number

__all__ = ["BUDGET_KEYS", "resolve_budget"]

#: The budget entries a preset fixes for a comparison (the epochs are the CLI's).
BUDGET_KEYS = (
    "explain_rows",
    "max_background",
    "n_permutations",
    "n_explanations",
    "n_bootstrap",
    "n_refits",
)


def resolve_budget(preset: str, owner: str, **overrides: Any) -> dict[str, Any]:
    """The comparison's budget: the preset's numbers, replaced by every override not None.

    Parameters
    ----------
    preset : {"quick", "standard", "thorough"}
        The named budget.
    owner : str
        The public entry point, for error messages.
    **overrides : int or None
        Any of :data:`BUDGET_KEYS`; None keeps the preset's value.

    Returns
    -------
    dict
        ``preset`` (its name), every key of :data:`BUDGET_KEYS`, and ``overridden`` (the
        keys the caller set).

    Raises
    ------
    ParameterError
        An unknown preset, or a number out of range (``n_explanations`` < 2,
        ``n_refits`` < 1, ``explain_rows`` or ``n_bootstrap`` < 0, the others < 1).
    """
    check_choice(preset, "preset", owner, list(PRESETS))
    budget: dict[str, Any] = {k: v for k, v in asdict(PRESETS[preset]).items() if k in BUDGET_KEYS}
    lows = {"explain_rows": 0, "n_bootstrap": 0, "n_explanations": 2}
    overridden = []
    for key in BUDGET_KEYS:
        value = overrides.get(key)
        if value is not None:
            budget[key] = check_number(value, key, owner, integer=True, low=lows.get(key, 1))
            overridden.append(key)
    return {"preset": preset, **budget, "overridden": overridden}
