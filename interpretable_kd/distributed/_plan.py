"""The pieces shared by the streaming and the Ray fits: the checked plan of a fit, one
optimiser step with the student's own hooks, a mini-batch's targets, and the fitted
attributes that make the result an ordinary local estimator.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from .._defaults import TEMPERATURE
from .._numeric import draw_seed
from .._torch_utils import Targets
from .._training import TorchClassifier, auto_training_sizes
from .._validation import check_number, check_temperature, check_weight
from ..distill import DistilledClassifier
from ..exceptions import InputTypeError, ParameterError, TrainingError
from ..losses import log_soften
from ..teachers import Teacher, as_teacher
from ._arrow import ColumnStats

#: A rows-done progress line at most this often (seconds): 20 million rows in 16,384-row
#: batches would otherwise print 1,200 lines. (Used here only, so not in ``_defaults``.)
PROGRESS_SECONDS = 2.0

__all__ = [
    "PROGRESS_SECONDS",
    "Progress",
    "StreamPlan",
    "batch_targets",
    "check_finite",
    "finalise_student",
    "log",
    "make_plan",
    "teacher_frame",
    "train_step",
]


@dataclass
class StreamPlan:
    """Everything a streaming or distributed fit needs besides the rows.

    Attributes
    ----------
    student : TorchClassifier
        An unfitted clone of the user's student (the user's object is never touched).
    distiller : DistilledClassifier or None
        An unfitted clone of the user's distiller, when one was given.
    teacher : Teacher
        The wrapped teacher (never retrained, never modified).
    temperature, hard_label_weight : float
        T and w of the objective.
    epochs, batch_size : int
        Epochs over the rows and rows per optimiser step (per worker on Ray).
    seed : int
        Seeds weight initialisation, the shuffles and the reservoir.
    """

    student: TorchClassifier
    distiller: DistilledClassifier | None
    teacher: Teacher
    temperature: float
    hard_label_weight: float
    epochs: int
    batch_size: int
    seed: int


def make_plan(
    estimator: Any,
    teacher: Any,
    *,
    temperature: Any,
    hard_label_weight: Any,
    epochs: Any,
    batch_size: Any,
    random_state: Any,
    n_rows: int,
    owner: str,
) -> StreamPlan:
    """Check the arguments of a streaming or distributed fit and resolve the defaults.

    Parameters
    ----------
    estimator : TorchClassifier or DistilledClassifier
        The student (unfitted) or a distiller whose student is a TorchClassifier.
    teacher : object or None
        Any model :func:`~interpretable_kd.as_teacher` accepts; None with a distiller
        (its own teacher is used).
    temperature, hard_label_weight : float or None
        None: the distiller's value, else ``TEMPERATURE`` and 0.
    epochs, batch_size : int or None
        None: the student's ``max_epochs``/``batch_size``, where ``"auto"`` follows
        :func:`~interpretable_kd._training.auto_training_sizes` on ``n_rows``.
    random_state : None, int or Generator
        None: the distiller's or the student's ``random_state``.
    n_rows : int
        Rows of the source (for the ``"auto"`` sizes).
    owner : str
        Who asks, for messages.

    Returns
    -------
    StreamPlan
    """
    distiller = None
    if isinstance(estimator, DistilledClassifier):
        distiller = clone(estimator)
        student_template = estimator.student
        if teacher is None:
            teacher = estimator.teacher
        temperature = estimator.temperature if temperature is None else temperature
        if hard_label_weight is None:
            hard_label_weight = estimator.hard_label_weight
        if random_state is None:
            random_state = estimator.random_state
    else:
        student_template = estimator
    if not isinstance(student_template, TorchClassifier):
        raise InputTypeError(
            f"{owner} needs a torch student (SoftLogisticRegression, ShallowMLPClassifier, "
            "SoftDecisionTreeClassifier, or a DistilledClassifier wrapping one); got "
            f"{type(student_template).__name__}. A scikit-learn surrogate cannot learn "
            "from a stream; fit it on a sample instead."
        )
    if getattr(student_template, "_fits_on_all_rows", False):
        raise InputTypeError(
            f"{owner} cannot train a {type(student_template).__name__} out of core: it "
            "places its basis (knots, pair terms) on all training rows at once. Distil it in "
            "memory on a sample of rows, or stream a SoftLogisticRegression, "
            "ShallowMLPClassifier or SoftDecisionTreeClassifier."
        )
    if teacher is None:
        raise InputTypeError(
            f"{owner} needs a teacher: pass teacher=..., or a DistilledClassifier that holds one."
        )
    if temperature is None:
        temperature = TEMPERATURE
    if isinstance(temperature, str):
        raise ParameterError(
            f"The 'temperature' parameter of {owner} must be a number > 0 for a streaming "
            f"fit. Got {temperature!r} instead. Choose T on a sample in memory (e.g. "
            "DistilledClassifier(temperature='auto').fit(X_sample).temperature_) and pass "
            "it here."
        )
    student = clone(student_template)
    student._check_common_params()
    student._check_params()
    params = student.get_params()
    auto_batch, auto_epochs, _ = auto_training_sizes(
        n_rows,
        params["batch_size"] if batch_size is None else batch_size,
        params["max_epochs"] if epochs is None else epochs,
        1,
    )
    epochs = auto_epochs if epochs is None else epochs
    batch_size = auto_batch if batch_size is None else batch_size
    if random_state is None:
        random_state = params.get("random_state")
    return StreamPlan(
        student=student,
        distiller=distiller,
        teacher=as_teacher(teacher),
        temperature=check_temperature(temperature, owner),
        hard_label_weight=check_weight(
            0.0 if hard_label_weight is None else hard_label_weight, owner
        ),
        epochs=check_number(epochs, "epochs", owner, integer=True, low=1),
        batch_size=check_number(batch_size, "batch_size", owner, integer=True, low=1),
        seed=draw_seed(random_state),
    )


def teacher_frame(teacher: Teacher, X: np.ndarray, features: list[str]) -> Any:
    """X as the teacher expects it: a DataFrame when it knows feature names, else X.

    Parameters
    ----------
    teacher : Teacher
        The wrapped teacher.
    X : ndarray of shape (n_rows, n_features)
        Rows.
    features : list of str
        Column names of X.

    Returns
    -------
    ndarray or DataFrame
    """
    return pd.DataFrame(X, columns=features) if teacher.feature_names_in_ is not None else X


def train_step(
    student: TorchClassifier,
    module: torch.nn.Module,
    optimizer: torch.optim.Adam,
    X: torch.Tensor,
    targets: Targets,
    sync_gradients: Any = None,
) -> float:
    """One optimiser step with the student's own objective and hooks.

    ``loss = student._batch_loss(module, X, targets, True)`` (distillation loss plus
    ``_penalty``), backward, optional gradient synchronisation, Adam step, then
    ``student._after_step``.

    Parameters
    ----------
    student : TorchClassifier
        Supplies ``_batch_loss`` and ``_after_step``.
    module : torch.nn.Module
        The network being trained.
    optimizer : torch.optim.Adam
        Adam over ``module``'s parameters.
    X : Tensor of shape (batch, n_features)
        Standardised rows.
    targets : Targets
        Their targets (teacher log-probabilities at T, labels).
    sync_gradients : callable or None
        Called with ``module`` after ``backward`` (e.g. an all-reduce of the gradients).

    Returns
    -------
    float
        The batch loss.
    """
    loss = student._batch_loss(module, X, targets, True)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if sync_gradients is not None:
        sync_gradients(module)
    optimizer.step()
    student._after_step(module, optimizer)
    return float(loss.detach())


def finalise_student(
    plan: StreamPlan,
    module: torch.nn.Module,
    stats: ColumnStats,
    features: list[str],
    history: list[dict[str, float]],
) -> Any:
    """Set the fitted attributes, so that the result is an ordinary local estimator.

    Parameters
    ----------
    plan : StreamPlan
        The fit's plan (its student and distiller clones are filled in place).
    module : torch.nn.Module
        The trained network (moved to the CPU, eval mode).
    stats : ColumnStats
        The training rows' column statistics.
    features : list of str
        Feature column names, in model order.
    history : list of dict
        One record per epoch.

    Returns
    -------
    TorchClassifier or DistilledClassifier
        The fitted student, or the fitted distiller wrapping it.
    """
    mean, scale = stats.mean_scale()
    names = np.asarray(features, dtype=object)
    student = plan.student
    student.classes_ = np.asarray(plan.teacher.classes_)
    student.n_features_in_ = len(features)
    student.feature_names_in_ = names
    student.x_mean_, student.x_scale_ = mean, scale
    student.module_ = module.cpu().eval()
    student.history_ = history
    student.n_iter_ = len(history)
    student.best_epoch_ = len(history)
    student.batch_size_, student.max_epochs_ = plan.batch_size, plan.epochs
    student.lr_schedule_ = "constant"
    student._fit_interrupted = False
    if plan.distiller is None:
        return student
    distiller = plan.distiller
    distiller.teacher_ = plan.teacher
    distiller.student_ = student
    distiller.classes_ = np.asarray(plan.teacher.classes_)
    distiller.n_features_in_ = len(features)
    distiller.feature_names_in_ = names
    distiller.n_synthetic_ = 0
    distiller.temperature_ = plan.temperature
    return distiller


def log(verbose: bool | Callable[[str], None], message: str) -> None:
    """Print a progress line to stderr when ``verbose``, or hand it to ``verbose``.

    Parameters
    ----------
    verbose : bool or callable
        Print or not; a callable (e.g. the command line's progress display) receives
        each line instead.
    message : str
        The line.
    """
    if callable(verbose):
        verbose(message)
    elif verbose:
        print(f"[interpretable_kd] {message}", file=sys.stderr, flush=True)


class Progress:
    """Rows done so far, as a throttled progress line: ``"{what} {done:,}/{total:,} rows
    ({rate:,.0f} rows/s)"`` at most once every ``PROGRESS_SECONDS`` seconds, and when
    the last row is done (a per-batch line would be 1,200 lines for 20 M rows).

    Parameters
    ----------
    verbose : bool or callable
        As in :func:`log`.
    total : int
        Rows expected.
    what : str
        E.g. ``"teacher scored"``.
    """

    def __init__(self, verbose: bool | Callable[[str], None], total: int, what: str) -> None:
        self.verbose, self.total, self.what = verbose, total, what
        self.start = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        """Report ``done`` rows if enough time passed or every row is done.

        Parameters
        ----------
        done : int
            Rows done so far.
        """
        if not self.verbose:
            return
        now = time.perf_counter()
        if done >= self.total or now - self.last >= PROGRESS_SECONDS:
            self.last = now
            rate = done / max(now - self.start, 1e-9)
            log(self.verbose, f"{self.what} {done:,}/{self.total:,} rows ({rate:,.0f} rows/s)")


def batch_targets(logits: np.ndarray, y: np.ndarray, plan: StreamPlan) -> Targets:
    """The targets of one mini-batch: ``log softmax(z_T / T)`` and labels (None when the
    batch has no labelled row or ``w = 0``).

    Parameters
    ----------
    logits : ndarray of shape (batch, n_classes)
        Teacher logits.
    y : ndarray of shape (batch,), int64
        Class indices, -1 for unlabelled rows.
    plan : StreamPlan
        T and w.

    Returns
    -------
    Targets
    """
    log_targets = log_soften(torch.from_numpy(np.ascontiguousarray(logits)), plan.temperature)
    use_labels = plan.hard_label_weight > 0 and bool((y >= 0).any())
    y_t = torch.from_numpy(np.ascontiguousarray(y)) if use_labels else None
    return Targets(y_t, log_targets, plan.temperature, plan.hard_label_weight)


def check_finite(record: dict[str, float], student: TorchClassifier, epoch: int) -> None:
    """Raise the loop's own TrainingError when an epoch's loss is not finite.

    Parameters
    ----------
    record : dict
        The epoch's record, with ``train_loss``.
    student : TorchClassifier
        For the message.
    epoch : int
        The epoch number.
    """
    if not math.isfinite(record["train_loss"]):
        raise TrainingError(
            f"{type(student).__name__} training diverged: the loss became "
            f"{record['train_loss']} at epoch {epoch}. Lower 'learning_rate' (now "
            f"{student.learning_rate})."
        )
