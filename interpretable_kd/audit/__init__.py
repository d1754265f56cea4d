"""The comparison of a teacher with its students: every number an audit reports.

:func:`compare` takes the models and held-out rows and returns a
:class:`ComparisonResult`: plain numbers, tables (pandas DataFrames) and each student's
readable view. ``report/`` turns that result into figures, HTML and ``metrics.json``
and never reads a model.

Layout (imports flow in this order): ``_result`` (the result dataclasses), ``_inputs``
(input checks, the bootstrap), ``_models`` (what is read from the models: probabilities,
kind and complexity from the student registry, readable views, coefficients),
``_shapes`` (the teacher's partial dependence beside an additive student's shapes, and
shape-against-shape Distill-and-Compare), ``_panels`` (per-row agreement, disagreements,
Distill-and-Compare) and ``_compare``
(:func:`compare`).
"""

from __future__ import annotations

from ._compare import CONFIDENCE, compare
from ._models import model_complexity, package_versions, readable_view
from ._panels import MAX_DISAGREEMENTS_EXPLAINED
from ._result import ComparisonResult, StudentResult

__all__ = [
    "CONFIDENCE",
    "MAX_DISAGREEMENTS_EXPLAINED",
    "ComparisonResult",
    "StudentResult",
    "compare",
    "model_complexity",
    "package_versions",
    "readable_view",
]
