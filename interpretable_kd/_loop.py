"""The body of :class:`~interpretable_kd._training.TorchClassifier`'s training loop.

Functions of the estimator (``est``), called by the thin methods of ``TorchClassifier``
that subclasses see and may override (``_run_epochs``, ``_split``,
``_check_common_params``, ``_device``): the epoch loop with early stopping, the
learning-rate schedule and the best-weights restore; the validation split; the checks of
the shared hyperparameters; the device; and the warning for a model that learned a
single class. Kept apart from ``_training`` so that each module stays short.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch

from ._defaults import (
    AUTO_BATCHES_PER_EPOCH,
    AUTO_FINAL_LR_FRACTION,
    AUTO_MAX_BATCH,
    AUTO_MAX_EPOCHS,
    AUTO_MIN_BATCH,
    AUTO_MIN_EPOCHS,
    AUTO_MIN_PATIENCE,
    AUTO_PATIENCE_FRACTION,
    AUTO_TARGET_STEPS,
    PREDICT_BATCH_SIZE,
)
from ._torch_utils import Targets, batched_inference, progress, resolve_threads
from ._validation import check_auto_int, check_bool, check_number
from .exceptions import DegenerateModelWarning, InputError, TrainingError

__all__ = [
    "auto_training_sizes",
    "check_common_params",
    "cosine_factor",
    "resolve_device",
    "run_epochs",
    "split_rows",
    "warn_if_degenerate",
]


def run_epochs(
    est: Any,
    module: torch.nn.Module,
    X: np.ndarray,
    targets: Targets,
    seed: int,
    max_epochs: int,
    device: torch.device,
    *,
    default_score: bool,
) -> tuple[list[dict[str, float]], int]:
    """Mini-batch Adam over standardised rows X.

    Uses ``est.batch_size_``, ``est.n_iter_no_change_`` and ``est.lr_schedule_`` (set
    before the fit; the parameters themselves when absent). Each epoch: one pass over
    the shuffled training rows, then ``est._validation_score`` on the held-out rows
    (``est._split``); early stopping after ``n_iter_no_change_`` epochs without an
    improvement of ``tol`` and, when enabled, a restore of the weights of the best
    epoch. With ``lr_schedule_ == "cosine"`` epoch e (1-based) of E runs at
    ``learning_rate * cosine_factor(e, E)``.

    Parameters
    ----------
    est : TorchClassifier
        The estimator (its hooks and settings).
    module : torch.nn.Module
        The network, on ``device``; trained in place.
    X : ndarray of shape (n_samples, n_features), float32
        Standardised rows.
    targets : Targets
        Their targets.
    seed : int
        Seed of the split and the shuffles.
    max_epochs : int
        Epoch budget E.
    device : torch.device
        Where training runs.
    default_score : bool
        Whether ``_validation_score`` is the validation loss (then each record also
        holds it as ``valid_loss``).

    Returns
    -------
    history : list of dict
        One record per epoch run: ``epoch``, ``train_loss``, ``lr``, and with a
        validation split ``valid_score`` (and ``valid_loss``).
    best_epoch : int
        The epoch whose weights the module holds.
    """
    name = type(est).__name__
    rng = np.random.default_rng(seed)
    batch_size = int(est.__dict__.get("batch_size_", est.batch_size))
    patience = int(est.__dict__.get("n_iter_no_change_", est.n_iter_no_change))
    cosine = est.__dict__.get("lr_schedule_") == "cosine"
    train_index, valid_index = est._split(X.shape[0], targets, rng)
    X_all = torch.from_numpy(X)
    X_train = X_all[train_index].to(device)
    targets_train = targets.rows(torch.from_numpy(train_index)).to(device)
    valid = None
    if valid_index is not None:
        valid = (
            X_all[valid_index].to(device),
            targets.rows(torch.from_numpy(valid_index)).to(device),
        )
    optimizer = torch.optim.Adam(
        module.parameters(), lr=est.learning_rate, weight_decay=est.weight_decay
    )
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, stale = math.inf, 0, None, 0
    n_train = X_train.shape[0]
    shuffle = torch.Generator().manual_seed(seed)
    for epoch in progress(range(1, max_epochs + 1), est.verbose, name):
        lr = est.learning_rate * (cosine_factor(epoch, max_epochs) if cosine else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        module.train()
        order = torch.randperm(n_train, generator=shuffle).to(device)
        total, count = 0.0, 0
        for start in range(0, n_train, batch_size):
            batch = order[start : start + batch_size]
            loss = est._batch_loss(module, X_train[batch], targets_train.rows(batch), True)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            est._after_step(module, optimizer)
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        record = {"epoch": epoch, "train_loss": total / count, "lr": lr}
        monitored = record["train_loss"]
        if valid is not None:
            module.eval()
            with torch.no_grad():
                monitored = float(est._validation_score(module, *valid))
            record["valid_score"] = monitored
            if default_score:
                record["valid_loss"] = monitored
        if not math.isfinite(record["train_loss"]) or not math.isfinite(monitored):
            raise TrainingError(
                f"{name} training diverged: the loss became {record['train_loss']} at "
                f"epoch {epoch}. Try a lower 'learning_rate' (now {est.learning_rate}), or "
                "clip extreme values in the features."
            )
        history.append(record)
        if monitored < best_loss - est.tol:
            best_loss, best_epoch, stale = monitored, epoch, 0
            if est.early_stopping:
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            stale += 1
            if est.early_stopping and stale >= patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history, best_epoch if est.early_stopping else len(history)


#: Scale of AUTO_TARGET_STEPS for the fits made inside :func:`scaled_step_budget`.
_STEP_SCALE: ContextVar[float] = ContextVar("auto_step_scale", default=1.0)


@contextlib.contextmanager
def scaled_step_budget(scale: float) -> Iterator[None]:
    """Within this block, ``max_epochs="auto"`` aims at ``scale * AUTO_TARGET_STEPS``
    optimiser steps (at least ``AUTO_MIN_EPOCHS`` epochs). Used for the cheap candidate fits
    of a temperature search; an explicit ``max_epochs`` is never changed.

    Parameters
    ----------
    scale : float in (0, 1]
        Share of the usual step budget.
    """
    token = _STEP_SCALE.set(float(scale))
    try:
        yield
    finally:
        _STEP_SCALE.reset(token)


def auto_training_sizes(
    n_rows: int, batch_size: Any, max_epochs: Any, n_iter_no_change: Any
) -> tuple[int, int, int]:
    """The batch size, epoch budget and early-stopping patience of a fit: the one rule
    behind ``"auto"``.

    Each ``"auto"`` is replaced as follows (an int is kept as given), with n the rows
    passed to the fit and the constants from :mod:`interpretable_kd._defaults`:

    - batch size ``b = clip(2 ** round(log2(n / AUTO_BATCHES_PER_EPOCH)),
      AUTO_MIN_BATCH, AUTO_MAX_BATCH)``: about 32 batches per epoch, batches that grow
      with n (64 rows up to 2,895 rows of data, 1,024 from 23,171 rows);
    - epochs ``E = clip(ceil(AUTO_TARGET_STEPS / ceil(n / b)), AUTO_MIN_EPOCHS,
      AUTO_MAX_EPOCHS)``: about the same number of optimiser steps (1,500) at every n,
      so large data sets take a few epochs and small ones many;
    - patience ``p = max(AUTO_MIN_PATIENCE, ceil(AUTO_PATIENCE_FRACTION * E))``: a
      quarter of the budget, so a still-improving model is not stopped early.

    Parameters
    ----------
    n_rows : int
        Training rows, >= 1.
    batch_size, max_epochs, n_iter_no_change : int or "auto"
        The estimator's parameters.

    Returns
    -------
    batch_size, max_epochs, n_iter_no_change : int
        The sizes to use.
    """
    n = max(int(n_rows), 1)
    if batch_size == "auto":
        power = 2 ** round(math.log2(max(n / AUTO_BATCHES_PER_EPOCH, 1.0)))
        batch_size = int(min(max(power, AUTO_MIN_BATCH), AUTO_MAX_BATCH))
    batch_size = int(batch_size)
    if max_epochs == "auto":
        steps_per_epoch = math.ceil(n / batch_size)
        epochs = math.ceil(AUTO_TARGET_STEPS * _STEP_SCALE.get() / steps_per_epoch)
        max_epochs = min(max(epochs, AUTO_MIN_EPOCHS), AUTO_MAX_EPOCHS)
    max_epochs = int(max_epochs)
    if n_iter_no_change == "auto":
        n_iter_no_change = max(AUTO_MIN_PATIENCE, math.ceil(AUTO_PATIENCE_FRACTION * max_epochs))
    return batch_size, max_epochs, int(n_iter_no_change)


def cosine_factor(epoch: int, max_epochs: int) -> float:
    """The learning-rate multiplier of epoch ``epoch`` (1-based) of ``max_epochs`` under
    the cosine schedule.

    ``f + (1 - f) * (1 + cos(pi * (epoch - 1) / max_epochs)) / 2`` with
    ``f = AUTO_FINAL_LR_FRACTION``: 1 at the first epoch, decreasing towards f.

    Parameters
    ----------
    epoch, max_epochs : int
        The epoch and the budget.

    Returns
    -------
    float
        The multiplier, in (f, 1].
    """
    f = AUTO_FINAL_LR_FRACTION
    return f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / max_epochs))


def split_rows(
    est: Any, n_samples: int, targets: Targets, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Hold out ``est.validation_fraction`` of the rows for early stopping.

    Stratified by label (or by the teacher's argmax) so the held-out rows keep the class
    balance; no split when early stopping is off or there are too few rows to spare
    (fewer than 10 on either side).

    Parameters
    ----------
    est : TorchClassifier
        The estimator.
    n_samples : int
        Rows.
    targets : Targets
        Their targets.
    rng : numpy.random.Generator
        Draws the held-out rows.

    Returns
    -------
    train_index : ndarray of int
        Training rows, sorted.
    valid_index : ndarray of int or None
        Held-out rows, sorted; None without a split.
    """
    n_valid = round(est.validation_fraction * n_samples)
    if not est.early_stopping or n_valid < 10 or n_samples - n_valid < 10:
        return np.arange(n_samples), None
    if targets.teacher_log_proba is not None:
        strata = targets.teacher_log_proba.argmax(dim=1).numpy()
    else:
        assert targets.y is not None  # fit() always passes labels
        strata = targets.y.numpy()
    valid = []
    for label in np.unique(strata):
        rows = np.flatnonzero(strata == label)
        take = round(len(rows) * n_valid / n_samples)
        valid.append(rng.permutation(rows)[:take])
    valid_index = np.sort(np.concatenate(valid))
    train_index = np.setdiff1d(np.arange(n_samples), valid_index)
    return train_index, valid_index


def check_common_params(est: Any) -> None:
    """Check the hyperparameters every TorchClassifier shares.

    Parameters
    ----------
    est : TorchClassifier
        The estimator.

    Raises
    ------
    ParameterError, InputTypeError, InputError
        Naming the first bad parameter.
    """
    owner = type(est).__name__
    check_auto_int(est.max_epochs, "max_epochs", owner)
    check_auto_int(est.batch_size, "batch_size", owner)
    check_number(est.learning_rate, "learning_rate", owner, low=0.0, closed="right")
    check_number(est.weight_decay, "weight_decay", owner, low=0.0)
    check_number(
        est.validation_fraction, "validation_fraction", owner, low=0.0, high=1.0, closed="neither"
    )
    check_auto_int(est.n_iter_no_change, "n_iter_no_change", owner)
    resolve_threads(getattr(est, "n_jobs", None), None, owner)
    check_number(est.tol, "tol", owner, low=0.0)
    check_bool(est.early_stopping, "early_stopping", owner)
    check_bool(est.verbose, "verbose", owner)
    resolve_device(est)


def resolve_device(est: Any) -> torch.device:
    """The torch device of ``est.device`` ("cpu", "cuda", "cuda:N", "mps" or "auto").

    Every refusal is one line that names the parameter: a device string torch does not
    parse, a device type the library does not train on (``"meta"`` holds no data,
    ``"xla"`` ...), and a device this machine lacks (CUDA, a CUDA index beyond the
    devices present, MPS). A model file with a tampered ``device`` meets the same checks
    (:mod:`interpretable_kd.persistence` runs them before building anything).

    Parameters
    ----------
    est : TorchClassifier
        The estimator.

    Returns
    -------
    torch.device
        Where it trains and predicts.

    Raises
    ------
    InputError
        For an unknown or unsupported device, or one torch does not see here.
    """
    owner = type(est).__name__
    if est.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    accepted = "'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'"
    try:
        if not isinstance(est.device, str | torch.device):
            raise TypeError(type(est.device).__name__)
        device = torch.device(est.device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"The 'device' parameter of {owner} must be {accepted}. Got {est.device!r} instead."
        ) from exc
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(
            f"The 'device' parameter of {owner} must be {accepted}. Got {est.device!r}: "
            f"the library does not train on {device.type!r} devices. Use device='cpu' or "
            "device='auto'."
        )
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(
                f"The 'device' parameter of {owner} is {est.device!r}, but torch sees no "
                "CUDA device here. Use device='cpu' or device='auto'."
            )
        if device.index is not None and device.index >= count:
            raise InputError(
                f"The 'device' parameter of {owner} is {est.device!r}, but torch sees "
                f"{count} CUDA device(s) here (cuda:0 to cuda:{count - 1}). Use one of those, "
                "or device='auto'."
            )
    if device.type == "mps" and not _mps_available():
        raise InputError(
            f"The 'device' parameter of {owner} is {est.device!r}, but this torch has no "
            "MPS (Apple GPU) support on this machine. Use device='cpu' or device='auto'."
        )
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    try:
        return bool(backend is not None and backend.is_available())
    except RuntimeError:  # pragma: no cover - torch builds without MPS
        return False


def warn_if_degenerate(est: Any, X: np.ndarray, y_index: np.ndarray) -> None:
    """Warn (:class:`~interpretable_kd.exceptions.DegenerateModelWarning`) when a model
    fitted on labels of several classes predicts one class on all its training rows.

    Parameters
    ----------
    est : TorchClassifier
        The fitted estimator.
    X : ndarray of shape (n_samples, n_features), float32
        The standardised training rows.
    y_index : ndarray of shape (n_samples,)
        Their labels, as class indices.
    """
    n_labels = np.unique(y_index).size
    if n_labels < 2:
        return
    parts = batched_inference(
        est.module_,
        X,
        lambda module, batch: np.unique(est._eval_logits(module, batch).argmax(1).cpu()),
        PREDICT_BATCH_SIZE,
    )
    predicted = np.unique(np.concatenate(parts))
    if predicted.size > 1:
        return
    label = np.asarray(est.classes_)[predicted[0]].item()
    warnings.warn(
        f"{type(est).__name__} predicts the single class {label!r} for "
        f"all {X.shape[0]} training rows, although their labels have {n_labels} classes: "
        "it learned nothing beyond one class. Likely causes: a learning rate too high or "
        f"too low (learning_rate={est.learning_rate}); too few epochs ({est.n_iter_} run, "
        f"max_epochs={est.max_epochs!r}); or a column whose scale is set by a few extreme "
        "values (inputs are divided by their standard deviation, so one huge outlier "
        "squeezes the rest of its column towards 0: clip or log-transform such columns). "
        "Try another learning_rate or more max_epochs.",
        DegenerateModelWarning,
        stacklevel=4,
    )
