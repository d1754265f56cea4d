"""Hostile model files and hostile settings (issue 14): a tampered ``.safetensors`` file is
refused, in one line, before anything in proportion to its claims is allocated; it can
only restore what ``fit`` learned; and the settings ``fit`` refuses are refused when read
from a file too. Also the distiller's own guards: a teacher with other classes at
``load``, an ``n_augment`` beyond the memory budget, and a DistilledClassifier whose
MLPTeacher shares its ``classes_`` array with the student (it could not be saved).

The memory tests run the load in a subprocess whose address space is capped
(``resource.setrlimit``) at what the imports took plus 512 MB.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import interpretable_kd as ikd
from interpretable_kd._augment import augment_memory
from interpretable_kd._defaults import AUGMENT_MEMORY_BUDGET
from interpretable_kd.exceptions import InputError, ParameterError, PersistenceError

ROOT = Path(__file__).resolve().parents[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 3))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
FAST = {"max_epochs": 3, "random_state": 0}


# ------------------------------------------------------------------------ helpers
def _edit_header(path: Path, change: Any) -> None:
    """Rewrite the JSON model header inside a safetensors file (as an attacker would)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    outer = json.loads(raw[8 : 8 + length])
    header = json.loads(outer["__metadata__"]["header"])
    change(header)
    outer["__metadata__"]["header"] = json.dumps(header)
    new = json.dumps(outer).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + length :])


def _params(key: str, value: Any) -> Any:
    def change(header: dict) -> None:
        header["params"][key] = value

    return change


def _fitted(key: str, value: Any) -> Any:
    def change(header: dict) -> None:
        header["fitted"][key] = value

    return change


def _as_fitted(key: str, value: Any) -> Any:
    """Move an attribute from the file's tensors to its JSON (as a forger would)."""

    def change(header: dict) -> None:
        header["arrays"].remove(key)
        header["fitted"][key] = value

    return change


@pytest.fixture(scope="module")
def tree_file(tmp_path_factory) -> Path:
    tree = ikd.SoftDecisionTreeClassifier(
        depth=2, max_features_per_node=None, init="random", **FAST
    ).fit(X, y)
    return tree.save(tmp_path_factory.mktemp("m") / "tree.safetensors")


@pytest.fixture(scope="module")
def teacher() -> ikd.MLPTeacher:
    return ikd.MLPTeacher(hidden_units=(8,), max_epochs=5, random_state=0).fit(X, y)


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def _load_refused(path: Path, message: str) -> str:
    with pytest.raises(PersistenceError, match=message) as info:
        ikd.load(path)
    text = str(info.value)
    assert "\n" not in text, text
    return text


_CAPPED = textwrap.dedent(
    """
    import resource, sys, time
    import interpretable_kd as ikd
    from interpretable_kd.exceptions import PersistenceError
    size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    cap = size + 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    for path in sys.argv[1:]:
        started = time.perf_counter()
        try:
            ikd.load(path)
        except PersistenceError as exc:
            print("REFUSED", round(time.perf_counter() - started, 3), str(exc))
        except MemoryError:
            print("MEMORYERROR")
        else:
            print("LOADED")
    """
)


def _load_capped(*paths: Path) -> list[str]:
    """Load each path in one subprocess capped at 512 MB above what its imports took;
    one line of outcome per path."""
    done = subprocess.run(
        [sys.executable, "-c", _CAPPED, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


@pytest.fixture(scope="module")
def capped(tree_file, teacher, tmp_path_factory) -> dict[str, str]:
    """Three tampered files (depth 26, n_features_in_ 1e8, hidden units 1e6), each loaded
    under the cap: name -> the outcome line."""
    root = tmp_path_factory.mktemp("capped")
    deep = _copy(tree_file, root / "deep.safetensors")
    _edit_header(deep, _params("depth", 26))
    wide = _copy(tree_file, root / "wide.safetensors")
    _edit_header(wide, _fitted("n_features_in_", 10**8))
    big = teacher.save(root / "big.safetensors")
    _edit_header(big, _params("hidden_units", {"__tuple__": [10**6]}))
    lines = _load_capped(deep, wide, big)
    return {"deep": lines[0], "wide": lines[1], "big": lines[2], "size": deep.stat().st_size}


# -------------------------------------------------------- tampered settings and sizes
def test_a_small_file_asking_for_depth_26_is_refused_quickly_under_a_memory_cap(capped) -> None:
    assert capped["size"] < 4096  # a ~2 KB file that asked for 2^26 nodes
    out = capped["deep"]
    assert out.startswith("REFUSED"), out
    assert float(out.split()[1]) < 1.0
    assert "'depth' parameter of SoftDecisionTreeClassifier must be an int in the range" in out
    assert "fit() refuses here" in out


def test_n_features_in_of_1e8_is_refused_before_allocating(capped) -> None:
    out = capped["wide"]
    assert out.startswith("REFUSED"), out
    assert "claims n_features_in_ = 100000000" in out


def test_hidden_units_that_disagree_with_the_stored_weights_are_refused(capped) -> None:
    out = capped["big"]
    assert out.startswith("REFUSED"), out
    assert "does not match its own settings: tensor '0.bias' has shape (8,), but its " in out
    assert "settings need (1000000,)" in out


def test_a_file_cannot_set_methods_properties_or_private_attributes(tree_file, tmp_path) -> None:
    for attr in ["predict", "n_parameters_", "_fit_interrupted", "__class__", "module_"]:
        path = _copy(tree_file, tmp_path / f"{attr}.safetensors")
        _edit_header(path, _fitted(attr, "boom"))
        _load_refused(
            path, f"sets attributes that a SoftDecisionTreeClassifier does not have.*'{attr}'"
        )


def test_a_file_cannot_pass_unknown_settings(tree_file, tmp_path) -> None:
    path = _copy(tree_file, tmp_path / "p.safetensors")
    _edit_header(path, _params("predict", "boom"))
    _load_refused(path, "gives the SoftDecisionTreeClassifier settings it does not have: 'predict'")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("device", "meta", "'device' parameter .* does not train on 'meta' devices"),
        ("device", "mps", "'device' parameter .* (no MPS|must be)"),
        ("device", "tpu:0", "'device' parameter .* must be 'cpu', 'cuda'"),
        ("early_stopping", "no", "'early_stopping' parameter .* must be True or False"),
        ("max_epochs", -5, "'max_epochs' parameter"),
    ],
)
def test_settings_fit_refuses_are_refused_from_a_file(
    key, value, message, tree_file, tmp_path
) -> None:
    path = _copy(tree_file, tmp_path / "s.safetensors")
    _edit_header(path, _params(key, value))
    text = _load_refused(path, message)
    assert "fit() refuses here" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_as_fitted("classes_", {"__array__": [0], "dtype": "<i8"}), "at least two distinct"),
        (
            _fitted("classes_", {"__array__": [0, 1], "dtype": "<i8"}),
            "gives the .*'classes_' twice",
        ),
        (_as_fitted("x_scale_", {"__array__": [1.0, 0.0, 1.0], "dtype": "<f8"}), "zero, negative"),
        (_fitted("n_features_in_", 5), r"x_mean_ of shape \(3,\), but n_features_in_ = 5"),
        (_fitted("n_features_in_", "three"), "no valid n_features_in_"),
    ],
)
def test_inconsistent_fitted_sizes_are_refused(change, message, tree_file, tmp_path) -> None:
    path = _copy(tree_file, tmp_path / "f.safetensors")
    _edit_header(path, change)
    _load_refused(path, message)


def test_classes_that_disagree_with_the_network_are_refused(tree_file, tmp_path) -> None:
    path = _copy(tree_file, tmp_path / "c.safetensors")

    def three_classes(header: dict) -> None:
        header["arrays"].remove("classes_")
        header["fitted"]["classes_"] = {"__array__": [0, 1, 2], "dtype": "<i8"}

    _edit_header(path, three_classes)
    _load_refused(path, "does not match its own settings: tensor 'leaf_logits'")


def test_every_damaged_file_message_is_one_line(tree_file, tmp_path) -> None:
    path = _copy(tree_file, tmp_path / "d.safetensors")

    def drop_fitted(header: dict) -> None:
        header.pop("fitted")

    _edit_header(path, drop_fitted)
    _load_refused(path, "damaged or incomplete: 'fitted'")


def test_torch_multi_line_errors_reach_the_user_as_one_line(tree_file, tmp_path, monkeypatch):
    """The shape check runs before torch sees the tensors; with it switched off, torch's
    own multi-line ``load_state_dict`` message still arrives as one line."""
    from interpretable_kd import persistence

    path = _copy(tree_file, tmp_path / "t.safetensors")
    _edit_header(path, _params("depth", 3))
    monkeypatch.setattr(persistence, "check_network_shapes", lambda *args: None)
    _load_refused(path, r"damaged or incomplete: Error\(s\) in loading state_dict .* size mismatch")


def test_the_untouched_file_still_loads(tree_file) -> None:
    model = ikd.load(tree_file)
    assert model.predict(X).shape == (len(X),)


# -------------------------------------------------------------- distilled classifier
def test_a_distiller_with_an_mlp_teacher_on_integer_labels_saves_and_loads(
    teacher, tmp_path
) -> None:
    kd = ikd.DistilledClassifier(teacher, ikd.SoftLogisticRegression(**FAST), temperature=1.0).fit(
        X, y
    )
    assert np.shares_memory(kd.student_.classes_, teacher.classes_)  # what broke safetensors
    loaded = ikd.DistilledClassifier.load(kd.save(tmp_path / "kd.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X), kd.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, [0, 1])
    assert loaded.fidelity(X) == kd.fidelity(X)


@pytest.fixture(scope="module")
def saved_kd(tmp_path_factory) -> tuple[Path, Any]:
    from sklearn.linear_model import LogisticRegression

    labels = np.array(["no", "yes"])[y]
    sk = LogisticRegression().fit(X, labels)
    kd = ikd.DistilledClassifier(sk, ikd.SoftLogisticRegression(**FAST), temperature=1.0)
    kd.fit(X, labels)
    return kd.save(tmp_path_factory.mktemp("kd") / "kd.safetensors"), sk


def test_load_refuses_a_teacher_with_other_classes(saved_kd) -> None:
    from sklearn.linear_model import LogisticRegression

    path, sk = saved_kd
    other = LogisticRegression().fit(X, np.array(["a", "b", "c"])[rng.integers(0, 3, len(X))])
    with pytest.raises(InputError, match=r"with other classes: 'a', 'b', 'c', but the saved"):
        ikd.DistilledClassifier.load(path, teacher=other)
    numbers = LogisticRegression().fit(X, y)
    with pytest.raises(InputError, match=r"other classes: 0, 1, but .* distilled for 'no', 'yes'"):
        ikd.DistilledClassifier.load(path, teacher=numbers)
    swapped = ikd.as_teacher(sk.predict_proba, output="proba", classes=["yes", "no"])
    with pytest.raises(InputError, match="the same classes in another order"):
        ikd.DistilledClassifier.load(path, teacher=swapped)
    loaded = ikd.DistilledClassifier.load(path, teacher=sk)
    assert loaded.fidelity(X) > 0.9


def test_a_distiller_file_cannot_set_predict_or_an_extreme_temperature(saved_kd, tmp_path) -> None:
    path, _ = saved_kd
    bad = _copy(path, tmp_path / "p.safetensors")
    _edit_header(bad, _fitted("predict", "boom"))
    _load_refused(bad, "sets attributes that a DistilledClassifier does not have.*'predict'")
    hot = _copy(path, tmp_path / "t.safetensors")
    _edit_header(hot, _params("temperature", 1e200))
    _load_refused(hot, r"'temperature' parameter of DistilledClassifier .* \[0.01, 100\]")


# ------------------------------------------------------------------------ n_augment
def test_n_augment_of_a_billion_is_refused_at_once_with_the_estimate(teacher) -> None:
    kd = ikd.DistilledClassifier(
        teacher, ikd.SoftLogisticRegression(**FAST), augment="gaussian", n_augment=10**9
    )
    started = time.perf_counter()
    with pytest.raises(
        ParameterError,
        match=r"'n_augment' .* 1,000,000,000 synthetic rows of 3 features, which would take "
        r"about 111\.8 GiB; the limit is 2 GiB .* Use n_augment <= 17,895,697",
    ):
        kd.fit(X, y)
    assert time.perf_counter() - started < 2.0


def test_n_augment_at_the_budget_is_accepted_and_just_above_refused() -> None:
    per_row = augment_memory(1, 3, 2)
    largest = AUGMENT_MEMORY_BUDGET // per_row
    assert augment_memory(largest, 3, 2) <= AUGMENT_MEMORY_BUDGET
    from interpretable_kd._augment import check_augment_memory

    check_augment_memory(largest, 3, 2, "X")
    with pytest.raises(ParameterError, match=f"Use n_augment <= {largest:,}"):
        check_augment_memory(largest + 1, 3, 2, "X")
    with pytest.raises(ParameterError, match=r"'n_augment' parameter of X \(None: as many as"):
        check_augment_memory(largest + 1, 3, 2, "X", default=True)


# ------------------------------------------------------------------ hostile settings
@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, "yes"])
def test_non_bool_early_stopping_is_refused(value) -> None:
    with pytest.raises(
        TypeError, match=f"'early_stopping' parameter .* True or False. Got {value!r}"
    ):
        ikd.SoftLogisticRegression(early_stopping=value, **FAST).fit(X, y)


def test_numpy_bools_and_integers_are_accepted() -> None:
    model = ikd.ShallowMLPClassifier(
        hidden_units=np.int64(4), early_stopping=np.False_, max_epochs=np.int64(2)
    ).fit(X, y)
    assert model.n_iter_ == 2
    teacher = ikd.MLPTeacher(hidden_units=(np.int64(8),), max_epochs=2, random_state=0).fit(X, y)
    assert teacher.module_[0].weight.shape == (8, 3)
    with pytest.raises(TypeError, match="'hidden_units' parameter of MLPTeacher"):
        ikd.MLPTeacher(hidden_units=(True,), max_epochs=2).fit(X, y)


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("meta", "does not train on 'meta' devices"),
        ("mps", "no MPS"),
        ("cuda:99", "cuda"),
        ("gpu", "must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'. Got 'gpu'"),
        (3, "Got 3 instead"),
    ],
)
def test_unusable_devices_are_one_line(device, message) -> None:
    with pytest.raises(InputError, match=message) as info:
        ikd.SoftLogisticRegression(device=device, **FAST).fit(X, y)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", [1e-40, 1e20, 1e200, 0.001, 1000.0])
def test_extreme_temperatures_name_temperature_in_one_line(value, teacher) -> None:
    message = r"'temperature' parameter of \w+ must be a float in the range \[0.01, 100\]"
    with pytest.raises(ParameterError, match=message):
        ikd.DistilledClassifier(teacher, ikd.SoftLogisticRegression(**FAST), temperature=value).fit(
            X, y
        )
    with pytest.raises(ParameterError, match=message):
        ikd.SoftLogisticRegression(**FAST).fit_distill(
            X, teacher.logits(X), classes=teacher.classes_, temperature=value
        )


def test_the_temperature_bounds_themselves_are_accepted(teacher) -> None:
    for value in (0.01, 100):
        student = ikd.SoftLogisticRegression(**FAST).fit_distill(
            X, teacher.logits(X), classes=teacher.classes_, temperature=value
        )
        assert np.isfinite(student.predict_proba(X)).all()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 1, None], r"1 missing label\(s\) in y \(None or NaN\) at rows 2"),
        ([0, 1, np.nan], r"1 missing label\(s\) in y .* at rows 2"),
        ([0, 1, "a"], r"labels y of mixed kinds: 0 \(row 0, number\), 'a' \(row 2, str\)"),
        ([1, "1", 0], r"mixed kinds: 1 \(row 0, number\), '1' \(row 1, str\)"),
    ],
)
def test_missing_or_mixed_labels_are_one_line(labels, message, teacher) -> None:
    y_bad = y.astype(object)
    y_bad[:3] = labels
    with pytest.raises(InputError, match=message):
        ikd.SoftLogisticRegression(**FAST).fit(X, y_bad)
    with pytest.raises(InputError, match=message):
        ikd.DistilledClassifier(teacher, ikd.SoftLogisticRegression(**FAST)).fit(X, y_bad)


def test_complex_columns_are_one_line_without_the_data() -> None:
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(c=lambda f: f["c"] + 1j)
    with pytest.raises(InputError, match=r"complex numbers \(columns 'c'\)") as info:
        ikd.SoftLogisticRegression(**FAST).fit(frame, y)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"complex numbers \(dtype complex128\)"):
        ikd.SoftLogisticRegression(**FAST).fit(X.astype(complex), y)
    with pytest.raises(InputError, match="complex numbers") as info:
        ikd.SoftLogisticRegression(**FAST).fit(X.astype(complex).tolist(), y)
    assert "\n" not in str(info.value)
