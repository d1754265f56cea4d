"""Saving and loading fitted models without pickle.

One ``.safetensors`` file per model: the network weights and numeric fitted arrays as
tensors, everything else (class, hyperparameters, classes, feature names, history) as JSON
in the file's metadata. Loading reads that JSON and those tensors, builds the model from
the table of registered classes, and never executes code from the file.

This module knows no concrete class. Estimators register themselves
(:func:`register_estimator`; every ``TorchClassifier`` subclass does so when it is
defined, and ``DistilledClassifier`` in its module). A class that holds other models
(``DistilledClassifier``) writes and reads its own header through two hooks:
``model._persistence_header(prefix, tensors)`` and
``cls._from_persistence_header(header, prefix, tensors, teacher)``, which call
:func:`describe_model`, :func:`build_model`, :func:`encode_value`, :func:`decode_value`,
:func:`params_header` and :func:`construct` for the models inside.

Pickling still works for scikit-learn habits, but only for files you trust: unpickling
runs arbitrary code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._persistence_checks import (
    check_attribute_names,
    check_fitted_shapes,
    check_network_shapes,
    check_param_names,
    check_settings,
    one_line,
    restorable,
)
from .exceptions import InputError, InputTypeError, PersistenceError

__all__ = [
    "FORMAT_VERSION",
    "build_model",
    "check_settings",
    "construct",
    "decode_value",
    "describe_model",
    "encode_value",
    "load_model",
    "one_line",
    "params_header",
    "register_estimator",
    "restorable",
    "save_model",
]

FORMAT_NAME = "interpretable_kd"
FORMAT_VERSION = 1

#: Class name -> class of every estimator that ``save`` writes and ``load`` rebuilds.
_CLASSES: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Let :func:`save_model` write, and :func:`load_model` rebuild, instances of ``cls``.

    Files name the class by ``cls.__name__``; registering another class under a name
    already taken replaces the old one (the latest definition wins).

    Parameters
    ----------
    cls : type
        An estimator class with ``get_params`` and ``__sklearn_is_fitted__``, and either
        ``_build_module`` (a torch estimator with ``module_``) or the two header hooks
        (see the module docstring).

    Returns
    -------
    type
        ``cls``, so that this can decorate a class.
    """
    _CLASSES[cls.__name__] = cls
    return cls


def _known_classes() -> dict[str, type]:
    """The registered classes, by name.

    Returns
    -------
    dict
        Class name -> class.
    """
    return _CLASSES


# ---------------------------------------------------------------------------- saving
def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted model to ``path`` (a ``.safetensors`` file), atomically.

    Supported: every registered class (every student, ``MLPTeacher`` and
    ``DistilledClassifier``: its student, and its teacher when that is an ``MLPTeacher``;
    any other teacher is not stored and must be passed again to :func:`load_model`).

    Parameters
    ----------
    model : estimator
        A fitted model of a registered class.
    path : str or os.PathLike
        The file to write; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    PersistenceError
        If the class is not registered or the model is not fitted.
    """
    name = type(model).__name__
    if name not in _known_classes():
        raise PersistenceError(
            f"save() supports {', '.join(sorted(_known_classes()))}; got {name}. Save other "
            "models with their own library's format."
        )
    if not model.__sklearn_is_fitted__():
        raise PersistenceError(f"This {name} is not fitted; fit it before saving.")
    tensors: dict[str, torch.Tensor] = {}
    header = describe_model(model, "", tensors)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "header": json.dumps(header),
    }
    from safetensors.torch import save_file

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def describe_model(model: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The JSON header of one fitted model; its tensors go into ``tensors``.

    A model with a ``_persistence_header`` hook writes its own header; any other stores
    its parameters, its fitted attributes (numeric arrays as tensors, the rest as JSON)
    and the state of its ``module_``.

    Parameters
    ----------
    model : estimator
        A fitted, registered estimator.
    prefix : str
        Prepended to the tensor names (``"student/"`` for a model inside another).
    tensors : dict
        Tensor name -> Tensor; filled in place.

    Returns
    -------
    dict
        The header: ``class``, ``params``, ``fitted``, ``arrays`` (or the hook's keys).
    """
    hook = getattr(model, "_persistence_header", None)
    if hook is not None:
        header: dict[str, Any] = hook(prefix, tensors)
        return header
    name = type(model).__name__
    header = {"class": name, "params": params_header(model), "fitted": {}, "arrays": []}
    for attr, value in vars(model).items():
        if not attr.endswith("_") or attr.startswith("_"):
            continue
        if attr == "module_":
            for key, tensor in value.state_dict().items():
                tensors[f"{prefix}module.{key}"] = tensor.detach().cpu()
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            # a copy: two models may hold one array (a DistilledClassifier's student and its
            # MLPTeacher share ``classes_``), and safetensors refuses tensors that share memory
            tensors[f"{prefix}array.{attr}"] = torch.from_numpy(np.array(value, order="C"))
            header["arrays"].append(attr)
        else:
            header["fitted"][attr] = encode_value(value, f"{name}.{attr}")
    return header


def params_header(model: Any) -> dict[str, Any]:
    """The constructor parameters of a registered model, as JSON.

    Parameters
    ----------
    model : estimator
        A registered estimator (fitted or not).

    Returns
    -------
    dict
        ``get_params(deep=False)``, each value through :func:`encode_value`.

    Raises
    ------
    PersistenceError
        If the class is not registered.
    """
    name = type(model).__name__
    if name not in _known_classes():
        raise PersistenceError(
            f"save() can store students of kinds {', '.join(sorted(_known_classes()))}; got {name}."
        )
    return {k: encode_value(v, f"{name}.{k}") for k, v in model.get_params(deep=False).items()}


def encode_value(value: Any, where: str) -> Any:
    """JSON with markers for the few non-JSON types fitted models hold.

    Parameters
    ----------
    value : object
        None, bool, str, a number, a tuple, list or dict of these, an array or a
        DataFrame.
    where : str
        ``Class.attribute``, for the error message.

    Returns
    -------
    object
        JSON-serialisable data that :func:`decode_value` turns back into ``value``.

    Raises
    ------
    PersistenceError
        For any other type.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else {"__float__": str(float(value))}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, where) for v in value]
    if isinstance(value, dict):
        return {
            "__dict__": [[encode_value(k, where), encode_value(v, where)] for k, v in value.items()]
        }
    if isinstance(value, np.ndarray):
        return {
            "__array__": [encode_value(v, where) for v in value.tolist()],
            "dtype": value.dtype.str,
        }
    if isinstance(value, pd.DataFrame):
        return {"__frame__": encode_value(value.to_dict(orient="split"), where)}
    raise PersistenceError(
        f"save() cannot store {where} of type {type(value).__name__}: only numbers, strings, "
        "lists, tuples, dicts and arrays are stored. Set it to an int (e.g. random_state=0)."
    )


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`.

    Parameters
    ----------
    value : object
        JSON data read from a header.

    Returns
    -------
    object
        The original value (tuples, dicts, arrays with their dtype, DataFrames).
    """
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(decode_value(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(decode_value(k)): decode_value(v) for k, v in value["__dict__"]}
    if "__array__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            return np.asarray(decode_value(value["__array__"]), dtype=object)
        return np.asarray(decode_value(value["__array__"]), dtype=dtype)
    if "__frame__" in value:
        split = decode_value(value["__frame__"])
        return pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
    raise PersistenceError(f"Unknown value in a model file: {sorted(value)!r}.")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# ---------------------------------------------------------------------------- loading
def load_model(
    path: str | os.PathLike[str], *, teacher: Any = None, expected: type | None = None
) -> Any:
    """Read a model written by :func:`save_model`. Executes no code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.safetensors`` file.
    teacher : object, optional
        For a ``DistilledClassifier`` whose teacher was not stored (anything but an
        ``MLPTeacher``): the teacher to attach. Without it the loaded model predicts but
        has no ``teacher_``.
    expected : type, optional
        Raise unless the file holds an instance of this class.

    Returns
    -------
    estimator
        The fitted model.

    Raises
    ------
    PersistenceError
        If the file is missing, not a model file, from a newer format, damaged, or of
        another class than ``expected``.
    """
    from safetensors import SafetensorError, safe_open

    source = Path(path)
    if not source.is_file():
        raise PersistenceError(f"No model file at {str(source)!r}.")
    try:
        with safe_open(str(source), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise PersistenceError(
            f"{str(source)!r} is not a model file written by interpretable_kd's save() "
            f"({one_line(exc)}). Pickled models are never loaded by load(); unpickle only "
            "files you trust."
        ) from exc
    if metadata.get("format") != FORMAT_NAME:
        raise PersistenceError(
            f"{str(source)!r} is a safetensors file but not an interpretable_kd model "
            f"(format {metadata.get('format')!r})."
        )
    try:
        version = int(metadata.get("format_version", "?"))
    except ValueError as exc:
        raise PersistenceError(
            f"{str(source)!r} has an unreadable format version {metadata.get('format_version')!r}."
        ) from exc
    if version > FORMAT_VERSION:
        raise PersistenceError(
            f"{str(source)!r} was written in model format {version} by a newer "
            f"interpretable_kd; this version reads formats up to {FORMAT_VERSION}. Upgrade "
            "interpretable_kd to load it."
        )
    if version < 1:
        raise PersistenceError(f"{str(source)!r} has an unknown model format version {version}.")
    try:
        header = json.loads(metadata["header"])
        model = build_model(header, "", tensors, teacher)
    except PersistenceError as exc:
        raise PersistenceError(f"{str(source)!r}: {one_line(exc)}") from exc
    except (InputError, InputTypeError):  # about what the caller passed (teacher=...)
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise PersistenceError(
            f"{str(source)!r} is damaged or incomplete: {one_line(exc)}."
        ) from exc
    if expected is not None and not isinstance(model, expected):
        raise PersistenceError(
            f"{str(source)!r} holds a {type(model).__name__}, not a {expected.__name__}. Use "
            f"interpretable_kd.load() or {type(model).__name__}.load()."
        )
    return model


def construct(class_name: str, params: dict[str, Any]) -> Any:
    """A new, unfitted instance of a registered class, its settings checked.

    Only the class's constructor parameters are accepted, and the instance must pass the
    checks its own ``fit`` runs first (``_check_common_params`` and ``_check_params``,
    when it has them): a file cannot ask for a tree of depth 26, a device torch lacks or
    ``early_stopping='no'``, which ``fit`` would refuse too.

    Parameters
    ----------
    class_name : str
        The class's name in the file.
    params : dict
        Its constructor parameters as JSON (decoded here).

    Returns
    -------
    estimator
        ``cls(**params)``.

    Raises
    ------
    PersistenceError
        If no class of that name is registered, a parameter is not the class's, or a
        setting is one ``fit`` refuses.
    """
    known = _known_classes()
    if class_name not in known:
        raise PersistenceError(
            f"The file holds a model of class {class_name!r}, which this version of "
            f"interpretable_kd does not know ({', '.join(sorted(known))})."
        )
    cls = known[class_name]
    if not isinstance(params, dict):
        raise PersistenceError(f"The settings of the {class_name} in the file are not a table.")
    check_param_names(cls, params)
    model = cls(**{k: decode_value(v) for k, v in params.items()})
    check_settings(model)
    return model


def build_model(
    header: dict[str, Any], prefix: str, tensors: dict[str, torch.Tensor], teacher: Any
) -> Any:
    """Rebuild one model from its header and tensors (the inverse of
    :func:`describe_model`).

    A class with a ``_from_persistence_header`` hook rebuilds itself; any other is
    constructed from its parameters (checked as ``fit`` checks them, :func:`construct`),
    given only the fitted attributes it may have (:func:`restorable`), checked for sizes
    that agree with each other and with the stored tensors (the network is first built
    on torch's "meta" device, which allocates nothing), and only then gets a real
    ``_build_module`` network loaded with the stored state. A tampered file is refused
    before any memory in proportion to its claims is allocated.

    Parameters
    ----------
    header : dict
        The model's header.
    prefix : str
        The prefix of its tensor names.
    tensors : dict
        Every tensor of the file.
    teacher : object or None
        A teacher to attach (passed to the hook; ignored otherwise).

    Returns
    -------
    estimator
        The fitted model.
    """
    if not isinstance(header, dict):
        raise PersistenceError("A model header in the file is not a table.")
    cls = _known_classes().get(header["class"])
    hook = getattr(cls, "_from_persistence_header", None)
    if hook is not None:
        return hook(header, prefix, tensors, teacher)
    model = construct(header["class"], header["params"])
    fitted, arrays = header["fitted"], header["arrays"]
    if not isinstance(fitted, dict) or not isinstance(arrays, list):
        raise PersistenceError(f"The fitted state of the {header['class']} is not readable.")
    check_attribute_names(type(model), [*fitted, *arrays])
    for attr, value in fitted.items():
        setattr(model, attr, decode_value(value))
    for attr in arrays:
        setattr(model, attr, tensors[f"{prefix}array.{attr}"].numpy().copy())
    n_classes = check_fitted_shapes(model, tensors, prefix)
    n_features = int(model.n_features_in_)
    state = {
        key[len(f"{prefix}module.") :]: value
        for key, value in tensors.items()
        if key.startswith(f"{prefix}module.")
    }
    check_network_shapes(model, n_features, n_classes, state)
    module = model._build_module(n_features, n_classes)
    module.load_state_dict(state, strict=True)
    module.eval()
    model.module_ = module.to(model._device())
    model._fit_interrupted = False
    return model
