"""Saving and loading fitted models without pickle.

One ``.safetensors`` file per model: the network weights and numeric fitted arrays as
tensors, everything else (class, hyperparameters, classes, feature names, history) as JSON
in the file's metadata. Loading reads that JSON and those tensors, builds the model from a
fixed list of known classes, and never executes code from the file.

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

from .exceptions import PersistenceError

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

FORMAT_NAME = "interpretable_kd"
FORMAT_VERSION = 1


def _known_classes() -> dict[str, type]:
    from .distill import DistilledClassifier
    from .students import ShallowMLPClassifier, SoftLogisticRegression
    from .teachers import MLPTeacher

    classes: dict[str, type] = {
        cls.__name__: cls
        for cls in (SoftLogisticRegression, ShallowMLPClassifier, MLPTeacher, DistilledClassifier)
    }
    try:
        from .students import SoftDecisionTreeClassifier

        classes[SoftDecisionTreeClassifier.__name__] = SoftDecisionTreeClassifier
    except ImportError:  # pragma: no cover - the soft tree ships with the package
        pass
    return classes


# ---------------------------------------------------------------------------- saving
def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted model to ``path`` (a ``.safetensors`` file), atomically.

    Supported: every student, ``MLPTeacher`` and ``DistilledClassifier`` (its student, and
    its teacher when that is an ``MLPTeacher``; any other teacher is not stored and must be
    passed again to :func:`load_model`).
    """
    name = type(model).__name__
    if name not in _known_classes():
        raise PersistenceError(
            f"save() supports {', '.join(sorted(_known_classes()))}; got {name}. Save other "
            "models with their own library's format."
        )
    if not hasattr(model, "student_" if name == "DistilledClassifier" else "module_"):
        raise PersistenceError(f"This {name} is not fitted; fit it before saving.")
    tensors: dict[str, torch.Tensor] = {}
    header = _describe(model, "", tensors)
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


def _describe(model: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    name = type(model).__name__
    if name == "DistilledClassifier":
        return _describe_distilled(model, prefix, tensors)
    header: dict[str, Any] = {"class": name, "params": _params(model), "fitted": {}, "arrays": []}
    for attr, value in vars(model).items():
        if not attr.endswith("_") or attr.startswith("_"):
            continue
        if attr == "module_":
            for key, tensor in value.state_dict().items():
                tensors[f"{prefix}module.{key}"] = tensor.detach().cpu()
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            tensors[f"{prefix}array.{attr}"] = torch.from_numpy(np.ascontiguousarray(value))
            header["arrays"].append(attr)
        else:
            header["fitted"][attr] = _encode(value, f"{name}.{attr}")
    return header


def _describe_distilled(
    model: Any, prefix: str, tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    params = model.get_params(deep=False)
    teacher_obj, student_template = params.pop("teacher"), params.pop("student")
    header: dict[str, Any] = {
        "class": "DistilledClassifier",
        "params": {k: _encode(v, f"DistilledClassifier.{k}") for k, v in params.items()},
        "student_template": {
            "class": type(student_template).__name__,
            "params": _params(student_template),
        },
        "student": _describe(model.student_, f"{prefix}student/", tensors),
        "fitted": {
            attr: _encode(getattr(model, attr), f"DistilledClassifier.{attr}")
            for attr in ("classes_", "n_features_in_", "feature_names_in_", "n_synthetic_")
            if hasattr(model, attr)
        },
    }
    if type(teacher_obj).__name__ == "MLPTeacher" and hasattr(teacher_obj, "module_"):
        header["teacher"] = _describe(teacher_obj, f"{prefix}teacher/", tensors)
    else:
        header["teacher"] = {"stored": False, "model_name": type(teacher_obj).__name__}
    return header


def _params(model: Any) -> dict[str, Any]:
    name = type(model).__name__
    if name not in _known_classes():
        raise PersistenceError(
            f"save() can store students of kinds {', '.join(sorted(_known_classes()))}; got {name}."
        )
    return {k: _encode(v, f"{name}.{k}") for k, v in model.get_params(deep=False).items()}


def _encode(value: Any, where: str) -> Any:
    """JSON with markers for the few non-JSON types fitted models hold."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else {"__float__": str(float(value))}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, where), _encode(v, where)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"__array__": [_encode(v, where) for v in value.tolist()], "dtype": value.dtype.str}
    if isinstance(value, pd.DataFrame):
        return {"__frame__": _encode(value.to_dict(orient="split"), where)}
    raise PersistenceError(
        f"save() cannot store {where} of type {type(value).__name__}: only numbers, strings, "
        "lists, tuples, dicts and arrays are stored. Set it to an int (e.g. random_state=0)."
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["__dict__"]}
    if "__array__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            return np.asarray(_decode(value["__array__"]), dtype=object)
        return np.asarray(_decode(value["__array__"]), dtype=dtype)
    if "__frame__" in value:
        split = _decode(value["__frame__"])
        return pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
    raise PersistenceError(f"Unknown value in a model file: {sorted(value)!r}.")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# ---------------------------------------------------------------------------- loading
def load_model(
    path: str | os.PathLike[str], *, teacher: Any = None, expected: type | None = None
) -> Any:
    """Read a model written by :func:`save_model`. Executes no code from the file.

    Args:
        path: the ``.safetensors`` file.
        teacher: for a ``DistilledClassifier`` whose teacher was not stored (anything but
            an ``MLPTeacher``): the teacher to attach. Without it the loaded model predicts
            but has no ``teacher_``.
        expected: raise unless the file holds an instance of this class.
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
            f"({exc}). Pickled models are never loaded by load(); unpickle only files you "
            "trust."
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
        model = _build(header, "", tensors, teacher)
    except PersistenceError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise PersistenceError(f"{str(source)!r} is damaged or incomplete: {exc}.") from exc
    if expected is not None and not isinstance(model, expected):
        raise PersistenceError(
            f"{str(source)!r} holds a {type(model).__name__}, not a {expected.__name__}. Use "
            f"interpretable_kd.load() or {type(model).__name__}.load()."
        )
    return model


def _construct(class_name: str, params: dict[str, Any]) -> Any:
    known = _known_classes()
    if class_name not in known:
        raise PersistenceError(
            f"The file holds a model of class {class_name!r}, which this version of "
            f"interpretable_kd does not know ({', '.join(sorted(known))})."
        )
    return known[class_name](**{k: _decode(v) for k, v in params.items()})


def _build(
    header: dict[str, Any], prefix: str, tensors: dict[str, torch.Tensor], teacher: Any
) -> Any:
    if header["class"] == "DistilledClassifier":
        return _build_distilled(header, prefix, tensors, teacher)
    model = _construct(header["class"], header["params"])
    for attr, value in header["fitted"].items():
        setattr(model, attr, _decode(value))
    for attr in header["arrays"]:
        setattr(model, attr, tensors[f"{prefix}array.{attr}"].numpy().copy())
    module = model._build_module(int(model.n_features_in_), len(model.classes_))
    state = {
        key[len(f"{prefix}module.") :]: value
        for key, value in tensors.items()
        if key.startswith(f"{prefix}module.")
    }
    module.load_state_dict(state, strict=True)
    module.eval()
    model.module_ = module.to(model._device())
    model._fit_interrupted = False
    return model


def _build_distilled(
    header: dict[str, Any], prefix: str, tensors: dict[str, torch.Tensor], teacher: Any
) -> Any:
    from .teachers import as_teacher

    template = _construct(header["student_template"]["class"], header["student_template"]["params"])
    stored_teacher = None
    if header["teacher"].get("stored", True):
        stored_teacher = _build(header["teacher"], f"{prefix}teacher/", tensors, None)
    chosen = teacher if teacher is not None else stored_teacher
    params = {k: _decode(v) for k, v in header["params"].items()}
    from .distill import DistilledClassifier

    model = DistilledClassifier(chosen, template, **params)
    for attr, value in header["fitted"].items():
        setattr(model, attr, _decode(value))
    model.student_ = _build(header["student"], f"{prefix}student/", tensors, None)
    if chosen is not None:
        model.teacher_ = as_teacher(chosen)
    return model
