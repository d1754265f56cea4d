"""What ``temperature="auto"`` (:mod:`interpretable_kd._temperature`) asks of a student.

Hooks, mixed into :class:`~interpretable_kd._training.TorchClassifier`: whether a fit
depends on the step budget, whether continuing a fitted candidate to another temperature
is cheaper than a fit from scratch, how many such continuations may run at once (and the
process-wide settings to fix while they do), and what the final fit on every row may
take from the candidate chosen on a sample of them.

And one scope, :func:`search_cache`: while a search runs, its candidates fit and predict
the same rows many times (the same training part at every T, the same validation part
for every candidate); a student may keep work that depends only on its structure and the
rows (:func:`search_cached`), and it is dropped when the search ends, so no fitted model
holds on to it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

__all__ = ["TemperatureSearchHooks", "search_cache", "search_cached"]

_Value = TypeVar("_Value")
_CACHE: contextvars.ContextVar[dict[tuple[Any, ...], Any] | None] = contextvars.ContextVar(
    "interpretable_kd_search_cache", default=None
)


@contextlib.contextmanager
def search_cache() -> Iterator[None]:
    """Within this block, :func:`search_cached` keeps what it computes (nested blocks
    share the outer one's store); everything is dropped when the outermost block ends."""
    if _CACHE.get() is not None:
        yield
        return
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def search_cached(key: tuple[Any, ...], rows: np.ndarray, compute: Callable[[], _Value]) -> _Value:
    """``compute()``, kept for the rest of the :func:`search_cache` block under ``key`` and
    the rows' content (a digest of their bytes, so equal rows hit whatever array holds
    them); outside a block, simply ``compute()``.

    Parameters
    ----------
    key : tuple
        What the value depends on besides the rows (say, a digest of a model's
        structure); hashable.
    rows : ndarray
        The rows it is computed from.
    compute : callable
        Makes the value; must depend on nothing but ``key`` and ``rows``.

    Returns
    -------
    The value (shared: callers must not modify it).
    """
    store = _CACHE.get()
    if store is None:
        return compute()
    array = np.ascontiguousarray(rows)
    digest = hashlib.blake2b(array.tobytes(), digest_size=16).digest()
    full = (*key, array.shape, array.dtype.str, digest)
    if full not in store:
        store[full] = compute()
    return store[full]


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

    def _search_workers(self) -> int:
        """How many of the candidates continued from this fitted one (``warm_start=True``)
        ``temperature="auto"`` may fit at once, a thread each.

        Only a student whose continued fit draws no random numbers, and whose only
        process-wide settings are those :meth:`_search_parallel_context` fixes for the
        whole search, may answer more than 1: its candidates then come out exactly as
        they would one after another. Default: 1.

        Returns
        -------
        int
            >= 1.
        """
        return 1

    def _search_parallel_context(self) -> contextlib.AbstractContextManager[Any]:
        """Process-wide settings (thread counts, the torch random state) that each
        candidate's fit sets and restores, fixed once on the calling thread while
        candidates fit in parallel, so that every fit sets the value already in force and
        its restore cannot undo another's. Default: none."""
        return contextlib.nullcontext()

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
