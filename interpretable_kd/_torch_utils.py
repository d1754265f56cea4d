"""Low torch helpers for the training loop, the students and the teachers.

:class:`Targets` (what a batch is trained against), :func:`batched_inference` (the one
batched no-grad inference loop: :class:`~interpretable_kd._training.TorchClassifier`
prediction, the soft tree's chunked path computations and ``TorchTeacher`` all use it),
:func:`check_teacher_logits`, :func:`isolated_torch_rng` (seeding without touching the
caller's random state) and :func:`progress` (the epoch bar). Re-exported by
:mod:`interpretable_kd._training`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._defaults import THREADS_MIN_ROWS
from .exceptions import ParameterError, TeacherOutputError

__all__ = [
    "Targets",
    "batched_inference",
    "check_teacher_logits",
    "isolated_torch_rng",
    "progress",
    "resolve_threads",
    "torch_threads",
]


@dataclass
class Targets:
    """What a batch is trained against.

    Attributes
    ----------
    y : Tensor of shape (n_samples,) or None
        Class indices, -1 where a row has no label; or None.
    teacher_log_proba : Tensor of shape (n_samples, n_classes) or None
        ``log softmax(z_T / T)``; or None.
    temperature : float
        T used to soften the teacher (1.0 when there is no teacher).
    hard_label_weight : float
        w in the Hinton et al. objective.
    """

    y: torch.Tensor | None
    teacher_log_proba: torch.Tensor | None
    temperature: float
    hard_label_weight: float

    def rows(self, index: torch.Tensor) -> Targets:
        """The targets of some rows.

        Parameters
        ----------
        index : Tensor of shape (n_rows,)
            Row indices.

        Returns
        -------
        Targets
            The same temperature and weight, the selected rows of ``y`` and
            ``teacher_log_proba``.
        """
        return Targets(
            None if self.y is None else self.y[index],
            None if self.teacher_log_proba is None else self.teacher_log_proba[index],
            self.temperature,
            self.hard_label_weight,
        )

    def to(self, device: torch.device) -> Targets:
        """The targets on another device.

        Parameters
        ----------
        device : torch.device
            Where the tensors go.

        Returns
        -------
        Targets
            A copy whose tensors live on ``device``.
        """
        return Targets(
            None if self.y is None else self.y.to(device),
            None if self.teacher_log_proba is None else self.teacher_log_proba.to(device),
            self.temperature,
            self.hard_label_weight,
        )


def batched_inference(
    module: torch.nn.Module,
    X: np.ndarray,
    fn: Callable[[torch.nn.Module, torch.Tensor], Any],
    batch_size: int,
) -> list[Any]:
    """Apply ``fn(module, X_batch)`` to X in row batches, in eval mode without gradients.

    Each batch is moved to the device, and cast to the dtype, of the module's first
    parameter (CPU and float32 for a module without parameters). The module's
    ``training`` flag is restored afterwards, even on an error.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    X : ndarray of shape (n_samples, n_features)
        The rows.
    fn : callable
        ``fn(module, batch)`` with ``batch`` a Tensor of shape (<= batch_size,
        n_features); whatever it returns is collected.
    batch_size : int
        Rows per call, >= 1.

    Returns
    -------
    list
        One ``fn`` result per batch, in row order; empty for an empty X.
    """
    try:
        param = next(module.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return [
                fn(module, torch.from_numpy(X[i : i + batch_size]).to(device, dtype))
                for i in range(0, X.shape[0], batch_size)
            ]
    finally:
        module.train(was_training)


def check_teacher_logits(logits: Any, n_samples: int, n_classes: int, owner: str) -> np.ndarray:
    """Teacher logits as a float32 array of shape (n_samples, n_classes), all finite.

    Parameters
    ----------
    logits : array-like
        What the teacher returned.
    n_samples, n_classes : int
        The expected shape.
    owner : str
        Who asks, for the error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32
        The logits.

    Raises
    ------
    TeacherOutputError
        If they are not numeric, have another shape or are not all finite.
    """
    try:
        array = np.asarray(logits, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TeacherOutputError(
            f"{owner} needs teacher logits as a numeric array; got {type(logits).__name__}."
        ) from exc
    if array.shape != (n_samples, n_classes):
        raise TeacherOutputError(
            f"{owner} got teacher logits of shape {array.shape}, expected "
            f"({n_samples}, {n_classes}): one row per row of X and one column per class. "
            "Check that the teacher was trained on the same classes."
        )
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise TeacherOutputError(
            f"{owner} got non-finite teacher logits (first at row {row}). A teacher must "
            "return finite logits; clip or fix the teacher's output."
        )
    return array


@contextlib.contextmanager
def isolated_torch_rng(seed: int) -> Iterator[None]:
    """Seed torch for weight initialisation and dropout without touching the caller's
    global random state.

    Parameters
    ----------
    seed : int
        The seed for ``torch.manual_seed`` inside the block.

    Yields
    ------
    None
        The CPU random state is restored when the block ends.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def progress(epochs: range, verbose: bool, name: str) -> Any:
    """The epochs, wrapped in a tqdm progress bar when ``verbose``.

    Parameters
    ----------
    epochs : range
        Epoch numbers.
    verbose : bool
        Show a bar.
    name : str
        The estimator's name, in the bar's label.

    Returns
    -------
    iterable
        ``epochs`` itself, or a tqdm bar over it.
    """
    if not verbose:
        return epochs
    from tqdm.auto import tqdm

    return tqdm(epochs, desc=f"{name} epochs", leave=False)


def resolve_threads(n_jobs: Any = None, rows: int | None = None, owner: str = "n_jobs") -> int:
    """The number of torch threads the library uses: the one rule of fit, predict, the
    CLI, the distiller, the teachers and the comparison.

    Rule for ``n_jobs=None``: one thread when a forward/backward pass works on fewer
    than ``THREADS_MIN_ROWS`` (65,536) rows at a time, which covers every training and
    prediction batch the library makes itself; otherwise every available core
    (``len(os.sched_getaffinity(0))``). Measured in ``benchmarks/threads.py`` on breast
    cancer and adult-size data (MLP student, MLP teacher, depth-4 soft tree): on idle
    cores a second thread changed an epoch by -10% to +8% (the latest run), and on busy
    shared cores an earlier run measured training 2 to 40 times slower with it, so one
    thread is never much slower at these sizes and sometimes far faster.

    Parameters
    ----------
    n_jobs : None or int
        None (the rule above), a positive count, or a negative one counted from the
        available cores as in scikit-learn (-1 = all cores, -2 = all but one).
    rows : int or None
        Rows per forward pass of the work to come (the batch size); None counts as small.
    owner : str
        Who asks, for the error message.

    Returns
    -------
    int
        Threads, >= 1.

    Raises
    ------
    ParameterError
        If ``n_jobs`` is 0 or not an int.
    """
    cores = _available_cores()
    if n_jobs is None:
        return 1 if rows is None or rows < THREADS_MIN_ROWS else cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ParameterError(
            f"The 'n_jobs' parameter of {owner} must be None (the library's choice), a "
            f"positive int or a negative int (-1 = all cores). Got {n_jobs!r} instead."
        )
    n_jobs = int(n_jobs)
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def torch_threads(
    n_jobs: Any = None, rows: int | None = None, owner: str = "n_jobs"
) -> Iterator[int]:
    """Run a block with torch's intra-op thread count from :func:`resolve_threads`, and
    restore the caller's count afterwards (even on an error).

    Parameters
    ----------
    n_jobs, rows, owner
        As in :func:`resolve_threads`.

    Yields
    ------
    int
        The thread count in force inside the block.
    """
    threads = resolve_threads(n_jobs, rows, owner)
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
