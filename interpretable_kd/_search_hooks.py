"""What ``temperature="auto"`` (:mod:`interpretable_kd._temperature`) asks of a student.

Three hooks, mixed into :class:`~interpretable_kd._training.TorchClassifier`: whether a
fit depends on the step budget, whether continuing a fitted candidate to another
temperature is cheaper than a fit from scratch, and what the final fit on every row may
take from the candidate chosen on a sample of them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TemperatureSearchHooks"]


class TemperatureSearchHooks:
    """The temperature search's questions to a student; defaults for a step-trained one."""

    def _fit_uses_step_budget(self) -> bool:
        """Whether the last fit's result depends on the ``max_epochs="auto"`` step budget
        (:func:`~interpretable_kd._loop.scaled_step_budget`); asked of a fitted candidate
        by ``temperature="auto"`` (:mod:`interpretable_kd._temperature`), which starts
        every candidate from one shared short fit only when it does.

        Default: True, except after a fit that recorded an exact solver in ``solver_``
        (any value but ``"adam"``: L-BFGS or FISTA solve to their tolerance whatever the
        budget). A subclass with another budget-free solver overrides this.

        Returns
        -------
        bool
            False when a larger step budget would fit the same model.
        """
        return str(self.__dict__.get("solver_", "adam")) == "adam"

    def _warm_start_pays(self) -> bool:
        """Whether ``temperature="auto"`` should continue this fitted candidate (at T = 1)
        to the other temperatures (``warm_start=True``) rather than fit them from scratch.

        Default: :meth:`_fit_uses_step_budget` (a step-budget fit continues for a share of
        the budget). An exact solver whose warm start saves work overrides this.

        Returns
        -------
        bool
        """
        return self._fit_uses_step_budget()

    def _reuse_search(self, candidate: Any) -> None:
        """Take what the temperature search's chosen candidate found, before the final fit.

        ``temperature="auto"`` fits candidates on a sample of the rows, then this
        (unfitted) clone on every row at the chosen T; a subclass may carry over choices
        that do not depend on the extra rows (a structure selected on validation rows)
        so the final fit need not make them again.
        Default: nothing is carried over.

        Parameters
        ----------
        candidate : TorchClassifier
            The candidate fitted at the chosen temperature (same class and parameters).
        """
