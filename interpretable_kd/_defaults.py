"""Defaults shared by more than one module, in one place.

Every module that needs one of these numbers imports it from here; none repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Budget:
    """How much work a command-line run does: the default, or ``--quick`` (smoke tests).

    Attributes
    ----------
    teacher_epochs : int
        ``max_epochs`` of the MLP teacher.
    student_epochs : int
        ``max_epochs`` of every student.
    explain_rows : int
        Test rows whose attributions are computed.
    n_bootstrap : int
        Bootstrap resamples of the confidence intervals.
    max_background : int
        Most background rows of the attribution value function.
    """

    teacher_epochs: int
    student_epochs: int
    explain_rows: int
    n_bootstrap: int
    max_background: int


#: The default keeps `interpretable-kd demo` (breast cancer, three students) under a minute
#: on two CPU cores: explaining rows dominates, then training.
FULL = Budget(
    teacher_epochs=200, student_epochs=200, explain_rows=100, n_bootstrap=300, max_background=25
)
#: ``--quick``: fewer epochs, explained rows and resamples; a fast, rougher report.
QUICK = Budget(
    teacher_epochs=30, student_epochs=30, explain_rows=25, n_bootstrap=100, max_background=15
)

#: Largest deviation from 1 allowed in the sum of a row of class probabilities.
PROBA_SUM_TOLERANCE = 1e-3
