"""Saving and loading models: same numbers after a round trip, and no code ever runs."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import interpretable_kd as ikd
from interpretable_kd.exceptions import PersistenceError
from interpretable_kd.persistence import FORMAT_VERSION


@pytest.fixture(scope="module")
def frame_data(binary_data):
    X, y = binary_data
    return pd.DataFrame(X, columns=["a", "b", "c", "d", "e"]), np.array(["no", "yes"])[y]


@pytest.fixture(scope="module")
def teacher(frame_data):
    # do not refit
    return ikd.MLPTeacher(hidden_units=(8,), max_epochs=20, random_state=0).fit(*frame_data)


def _models(frame_data, teacher):
    X, y = frame_data
    return [
        ikd.SoftLogisticRegression(penalty="l1", max_epochs=10, random_state=0).fit(X, y),
        ikd.ShallowMLPClassifier(hidden_units=3, max_epochs=10, random_state=0).fit(X, y),
        ikd.SoftDecisionTreeClassifier(depth=2, max_epochs=5, random_state=0).fit(X, y),
        teacher,
    ]


def test_round_trip_gives_identical_predictions_and_attributes(
    frame_data, teacher, tmp_path
) -> None:
    X, _ = frame_data
    for model in _models(frame_data, teacher):
        path = model.save(tmp_path / f"{type(model).__name__}.safetensors")
        loaded = type(model).load(path)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
        np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
        assert loaded.get_params() == model.get_params()
        assert loaded.history_ == model.history_


def test_distilled_classifier_round_trip_with_and_without_its_teacher(
    frame_data, teacher, tmp_path
) -> None:
    X, y = frame_data
    kd = ikd.DistilledClassifier(
        teacher, ikd.SoftLogisticRegression(max_epochs=5), random_state=0
    ).fit(X, y)
    loaded = ikd.DistilledClassifier.load(kd.save(tmp_path / "kd.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X), kd.predict_proba(X))
    assert loaded.fidelity(X) == pytest.approx(kd.fidelity(X))  # MLPTeacher is stored too

    sklearn_teacher = LogisticRegression().fit(X, y)
    kd2 = ikd.DistilledClassifier(sklearn_teacher, ikd.SoftLogisticRegression(max_epochs=5)).fit(
        X, y
    )
    path = kd2.save(tmp_path / "kd2.safetensors")
    orphan = ikd.DistilledClassifier.load(path)
    np.testing.assert_array_equal(orphan.predict(X), kd2.predict(X))
    with pytest.raises(ValueError, match="loaded without its teacher; pass teacher="):
        orphan.fidelity(X)
    assert ikd.DistilledClassifier.load(path, teacher=sklearn_teacher).fidelity(X) == pytest.approx(
        kd2.fidelity(X)
    )


def test_top_level_load_reads_any_model(frame_data, teacher, tmp_path) -> None:
    model = _models(frame_data, teacher)[0]
    ikd.save(model, tmp_path / "m.safetensors")
    assert isinstance(ikd.load(tmp_path / "m.safetensors"), ikd.SoftLogisticRegression)
    with pytest.raises(
        PersistenceError, match="holds a SoftLogisticRegression, not a ShallowMLPClassifier"
    ):
        ikd.ShallowMLPClassifier.load(tmp_path / "m.safetensors")


def test_a_pickle_is_never_loaded(tmp_path) -> None:
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle code ran')",))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(
        PersistenceError, match="not a model file written by interpretable_kd's save.*never loaded"
    ):
        ikd.load(path)


def _rewrite_metadata(path, change) -> None:
    """Edit the JSON header of a safetensors file in place (8-byte length, then JSON)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    change(header["__metadata__"])
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + length :])


def test_newer_or_unknown_format_versions_are_refused(frame_data, teacher, tmp_path) -> None:
    path = _models(frame_data, teacher)[0].save(tmp_path / "m.safetensors")
    _rewrite_metadata(path, lambda meta: meta.update(format_version=str(FORMAT_VERSION + 1)))
    with pytest.raises(
        PersistenceError,
        match=f"model format {FORMAT_VERSION + 1} by a newer interpretable_kd.*Upgrade",
    ):
        ikd.load(path)
    _rewrite_metadata(path, lambda meta: meta.update(format="something-else"))
    with pytest.raises(PersistenceError, match="not an interpretable_kd model"):
        ikd.load(path)


def test_unknown_class_in_file_is_refused(frame_data, teacher, tmp_path) -> None:
    path = _models(frame_data, teacher)[0].save(tmp_path / "m.safetensors")

    def swap_class(meta):
        header = json.loads(meta["header"])
        header["class"] = "os.system"
        meta["header"] = json.dumps(header)

    _rewrite_metadata(path, swap_class)
    with pytest.raises(
        PersistenceError,
        match="class 'os.system', which this version of interpretable_kd does not know",
    ):
        ikd.load(path)


def test_unfitted_and_foreign_models_cannot_be_saved(tmp_path) -> None:
    with pytest.raises(PersistenceError, match="not fitted; fit it before saving"):
        ikd.SoftLogisticRegression().save(tmp_path / "x.safetensors")
    with pytest.raises(PersistenceError, match="save\\(\\) supports .*got LogisticRegression"):
        ikd.save(LogisticRegression(), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_pickle_still_works_for_trusted_files(frame_data, teacher) -> None:
    X, _ = frame_data
    model = _models(frame_data, teacher)[2]
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(model)).predict_proba(X), model.predict_proba(X)
    )
