"""The checks a model file passes before :mod:`interpretable_kd.persistence` builds
anything from it.

A file is data written by someone else: its settings go through the checks the class's
own ``fit`` runs (:func:`check_settings`), it may only restore fitted attributes the
class does not define itself (:func:`restorable`: never ``predict``), and its sizes must
agree with each other and with the tensors it stores (:func:`check_fitted_shapes`,
:func:`check_network_shapes`, which builds the network on torch's "meta" device, shapes
without memory) before a real network is allocated. Every refusal is one line.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import torch

from .exceptions import PersistenceError

__all__ = [
    "check_attribute_names",
    "check_fitted_shapes",
    "check_network_shapes",
    "check_param_names",
    "check_settings",
    "one_line",
    "restorable",
]

#: The form of a fitted attribute a file may restore (scikit-learn's convention).
_FITTED_NAME = re.compile(r"[a-z][a-z0-9_]*_")


def check_param_names(cls: type, params: dict[str, Any]) -> None:
    """Refuse settings that are not constructor parameters of ``cls``.

    Parameters
    ----------
    cls : type
        The class named in the file.
    params : dict
        The file's settings for it.

    Raises
    ------
    PersistenceError
        Naming the unknown settings.
    """
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - accepted, key=str)
    if unknown:
        raise PersistenceError(
            f"The file gives the {cls.__name__} settings it does not have: "
            f"{', '.join(map(repr, unknown[:5]))}. The file was altered or written by "
            "another program; it was not loaded."
        )


def check_settings(model: Any) -> None:
    """Run the checks ``fit`` starts with on a model read from a file.

    Parameters
    ----------
    model : estimator
        An unfitted instance built from a file's settings.

    Raises
    ------
    PersistenceError
        With the check's own message, when a setting is one ``fit`` refuses.
    """
    name = type(model).__name__
    for hook in ("_check_common_params", "_check_params"):
        check = getattr(model, hook, None)
        if check is None:
            continue
        try:
            check()
        except (ValueError, TypeError) as exc:
            raise PersistenceError(
                f"The file's settings of the {name} are ones fit() refuses here: "
                f"{one_line(exc)} It was not loaded (nothing was built from it)."
            ) from exc


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (torch's messages span several).

    Parameters
    ----------
    exc : BaseException
        The error.

    Returns
    -------
    str
        ``str(exc)`` with every run of whitespace made one space (the class name when
        the message is empty).
    """
    return " ".join((str(exc) or type(exc).__name__).split())


def restorable(cls: type, attr: object) -> bool:
    """Whether a model file may set ``attr`` on an instance of ``cls``.

    A fitted attribute as scikit-learn names them (lower case, ending in ``_``, not
    private) that the class does not define itself: no method (``predict``), property
    (``n_parameters_``) or class attribute can be replaced from a file. ``module_`` is
    built from the stored tensors, never set from the header.

    Parameters
    ----------
    cls : type
        The model's class.
    attr : object
        A name from the file.

    Returns
    -------
    bool
        True when the file may set it.
    """
    return (
        isinstance(attr, str)
        and _FITTED_NAME.fullmatch(attr) is not None
        and attr != "module_"
        and not hasattr(cls, attr)
    )


def check_attribute_names(cls: type, names: list[Any]) -> None:
    """Refuse names a file may not restore (:func:`restorable`), or gives twice.

    Parameters
    ----------
    cls : type
        The model's class.
    names : list
        The names of the header's ``fitted`` entries, then of its ``arrays``.

    Raises
    ------
    PersistenceError
        Naming the first refused attributes.
    """
    twice = sorted({str(name) for name in names if names.count(name) > 1})
    if twice:
        raise PersistenceError(
            f"The file gives the {cls.__name__}'s {', '.join(map(repr, twice[:5]))} twice: "
            "it was altered and was not loaded."
        )
    refused = [name for name in names if not restorable(cls, name)]
    if refused:
        raise PersistenceError(
            f"The file sets attributes that a {cls.__name__} does not have as fitted "
            f"attributes: {', '.join(map(repr, refused[:5]))}. A model file may only restore "
            "what fit() learned; this one was altered and was not loaded."
        )


def check_fitted_shapes(model: Any, tensors: dict[str, torch.Tensor], prefix: str) -> int:
    """Check that the fitted attributes agree with each other and with the stored
    network's size, before any network is built; return the number of classes.

    Parameters
    ----------
    model : TorchClassifier
        The model with its fitted attributes restored (no ``module_`` yet).
    tensors : dict
        Every tensor of the file.
    prefix : str
        The prefix of this model's tensor names.

    Returns
    -------
    int
        The number of classes.

    Raises
    ------
    PersistenceError
        Naming the first inconsistent attribute.
    """
    name = type(model).__name__
    stored = sum(int(t.numel()) for key, t in tensors.items() if key.startswith(f"{prefix}module."))
    n_features = model.__dict__.get("n_features_in_")
    classes = model.__dict__.get("classes_")
    if isinstance(n_features, bool) or not isinstance(n_features, int | np.integer):
        raise PersistenceError(f"The file's {name} has no valid n_features_in_ ({n_features!r}).")
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        raise PersistenceError(f"The file's {name} has no valid classes_ ({classes!r}).")
    n_features, n_classes = int(n_features), int(classes.shape[0])
    # every feature and every class has at least one weight in each network here
    for what, count in (("n_features_in_", n_features), ("classes", n_classes)):
        if not 1 <= count <= max(stored, 1):
            raise PersistenceError(
                f"The file's {name} claims {what} = {count}, but its network stores "
                f"{stored} numbers in all: the file was altered and was not loaded."
            )
    if n_classes < 2 or len(set(classes.tolist())) != n_classes:
        raise PersistenceError(
            f"The file's {name} has classes_ {classes.tolist()[:10]!r}: a fitted classifier "
            "has at least two distinct classes. The file was altered and was not loaded."
        )
    for attr in ("x_mean_", "x_scale_", "feature_names_in_"):
        value = model.__dict__.get(attr)
        if value is not None and np.shape(value) != (n_features,):
            raise PersistenceError(
                f"The file's {name} has {attr} of shape {np.shape(value)}, but "
                f"n_features_in_ = {n_features}: the file was altered and was not loaded."
            )
    scale = model.__dict__.get("x_scale_")
    if scale is not None and not (np.isfinite(scale).all() and (scale > 0).all()):
        raise PersistenceError(
            f"The file's {name} has a zero, negative or non-finite x_scale_: the file was "
            "altered and was not loaded."
        )
    return n_classes


def check_network_shapes(
    model: Any, n_features: int, n_classes: int, state: dict[str, torch.Tensor]
) -> None:
    """Build the network on torch's "meta" device (shapes only, no memory) and compare
    every parameter and buffer with the stored tensors.

    Parameters
    ----------
    model : TorchClassifier
        The model, settings and fitted attributes restored.
    n_features, n_classes : int
        The sizes the network is built for.
    state : dict
        The stored state dict.

    Raises
    ------
    PersistenceError
        On a missing, unexpected or differently shaped tensor.
    """
    with torch.device("meta"):
        skeleton = model._build_module(n_features, n_classes)
    expected = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    got = {key: tuple(value.shape) for key, value in state.items()}
    if expected == got:
        return
    name = type(model).__name__
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = [k for k in sorted(set(expected) & set(got)) if expected[k] != got[k]]
    if differ:
        key = differ[0]
        what = f"tensor {key!r} has shape {got[key]}, but its settings need {expected[key]}"
    elif missing:
        what = f"tensor {missing[0]!r} is missing"
    else:
        what = f"tensor {extra[0]!r} is not part of a {name}"
    raise PersistenceError(
        f"The file's {name} does not match its own settings: {what}. The file was altered "
        "or damaged and was not loaded."
    )
