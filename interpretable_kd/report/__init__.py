"""Reports: a comparison's result turned into figures, HTML and ``metrics.json``.

``numbers`` (:class:`DistillationReport`: the result plus the headline table, the JSON
content and the summary sentences) -> ``writer`` (atomic save) -> ``html`` (the page) ->
``figures`` (comparison figures) and ``whitebox`` / ``tree`` (each student drawn from its
readable view), all on ``_style``. Nothing here computes a number or reads a model: the
comparison itself is :func:`interpretable_kd.audit.compare`.
"""

from ._output import check_output_directory
from .numbers import SCHEMA_VERSION, DistillationReport, StudentResult

__all__ = ["SCHEMA_VERSION", "DistillationReport", "StudentResult", "check_output_directory"]
