"""Defaults shared by more than one module, in one place.

Every module that needs one of these numbers imports it from here; none repeats it.
"""

from __future__ import annotations

#: Weight w of the hard-label cross-entropy in the distillation objective.
HARD_LABEL_WEIGHT = 0.1
#: Temperature T of the distillation objective.
TEMPERATURE = 1.0
#: Share of the rows held out for the report when the library splits the data.
TEST_SIZE = 0.3
#: A student agreeing with its teacher on fewer rows than this gets a LowFidelityWarning.
LOW_FIDELITY = 0.9
#: Rows scored per forward pass at prediction time (bounds memory, not results).
PREDICT_BATCH_SIZE = 8192
