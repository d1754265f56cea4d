"""Reports: the numbers (``numbers``), the figures (``figures``) and the HTML (``html``)."""

from .numbers import SCHEMA_VERSION, DistillationReport, StudentResult, model_complexity

__all__ = ["SCHEMA_VERSION", "DistillationReport", "StudentResult", "model_complexity"]
