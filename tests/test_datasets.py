"""Bundled data sets, TabularPreprocessor and split_dataset."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from interpretable_kd.datasets import (
    DATASET_NAMES,
    Dataset,
    DatasetSplit,
    TabularPreprocessor,
    list_datasets,
    load_dataset,
    split_dataset,
)
from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError

ROWS = {
    "adult": 48_842,
    "breast_cancer": 569,
    "compas": 6_172,
    "digits": 1_797,
    "german_credit": 1_000,
    "iris": 150,
    "wine": 178,
}


@pytest.fixture(scope="module")
def adult() -> Dataset:
    return load_dataset("adult")


@pytest.fixture(scope="module")
def adult_split() -> DatasetSplit:
    """Fitted once for the module; do not refit its preprocessor."""
    return split_dataset("adult", random_state=0)


@pytest.fixture
def mixed() -> pd.DataFrame:
    """Numeric, integer, boolean and categorical columns, with missing values."""
    return pd.DataFrame(
        {
            "income": [10.0, 20.0, np.nan, 40.0, 30.0],
            "children": [0, 1, 2, 1, 0],
            "owner": [True, False, True, True, False],
            "job": ["clerk", "nurse", None, "clerk", "farmer"],
        }
    )


# ------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_every_dataset_loads_with_consistent_parts(name: str) -> None:
    dataset = load_dataset(name)
    assert dataset.name == name
    assert dataset.frame.shape[0] == len(dataset.target) == ROWS[name]
    assert dataset.class_names == np.unique(dataset.target.to_numpy(dtype=str)).tolist()
    assert all(isinstance(label, str) for label in dataset.target)
    assert dataset.target.name not in dataset.frame.columns
    assert dataset.frame.index.equals(pd.RangeIndex(ROWS[name]))
    assert all([dataset.description, dataset.source, dataset.task])
    assert name in repr(dataset)


def test_adult_is_clean_and_keeps_the_canonical_split(adult: Dataset) -> None:
    assert adult.class_names == ["<=50K", ">50K"]
    assert adult.extra is not None
    assert adult.extra["split"].value_counts().to_dict() == {"train": 32_561, "test": 16_281}
    text = adult.frame.select_dtypes(exclude="number")
    assert "workclass" in text.columns
    for column in text.columns:
        values = text[column].dropna()
        assert not values.str.contains(r"^\s|\s$|^\?$|\|").any(), column
    assert adult.frame["workclass"].isna().sum() > 0  # '?' became missing
    assert adult.frame["age"].dtype.kind == "i"


def test_compas_follows_propublica_and_keeps_the_score_out_of_the_features() -> None:
    compas = load_dataset("compas")
    assert compas.frame.columns.tolist() == [
        "sex",
        "age",
        "age_cat",
        "race",
        "juv_fel_count",
        "juv_misd_count",
        "juv_other_count",
        "priors_count",
        "c_charge_degree",
    ]
    assert compas.class_names == ["no recid", "recid"]
    assert set(compas.frame["c_charge_degree"]) == {"F", "M"}
    assert compas.extra is not None
    assert set(compas.extra["score_text"]) == {"Low", "Medium", "High"}
    assert compas.extra["decile_score"].between(1, 10).all()
    assert not {"decile_score", "score_text"} & set(compas.frame.columns)


def test_german_credit_labels() -> None:
    german = load_dataset("german_credit")
    assert german.class_names == ["bad", "good"]
    assert german.target.value_counts().to_dict() == {"good": 700, "bad": 300}


def test_digits_describes_its_images() -> None:
    digits = load_dataset("digits")
    assert digits.images_shape == (8, 8)
    assert digits.frame.shape[1] == 64
    assert digits.class_names == [str(d) for d in range(10)]
    assert load_dataset("iris").images_shape is None


def test_loads_return_independent_copies() -> None:
    first = load_dataset("german_credit")
    first.frame.iloc[0, 0] = "changed"
    first.target.iloc[0] = "changed"
    first.class_names.append("changed")
    again = load_dataset("german_credit")
    assert again.frame.iloc[0, 0] != "changed"
    assert again.target.iloc[0] != "changed"
    assert again.class_names == ["bad", "good"]
    compas = load_dataset("compas")
    assert compas.extra is not None
    compas.extra.loc[0, "decile_score"] = 99
    assert load_dataset("compas").extra["decile_score"].max() == 10  # type: ignore[index]


def test_dataset_is_frozen(adult: Dataset) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        adult.name = "other"  # type: ignore[misc]


def test_unknown_dataset_lists_names_and_suggests() -> None:
    with pytest.raises(ParameterError, match=r"'name' parameter.*Did you mean 'adult'\?") as info:
        load_dataset("adlt")
    assert "'german_credit'" in str(info.value)


def test_list_datasets_summarises_every_dataset() -> None:
    table = list_datasets()
    assert {"name", "rows", "features", "classes", "source"} <= set(table.columns)
    assert table["name"].tolist() == list(DATASET_NAMES)
    assert dict(zip(table["name"], table["rows"], strict=True)) == ROWS
    row = table.set_index("name").loc["compas"]
    assert (row["features"], row["classes"]) == (9, 2)
    assert table.set_index("name").loc["digits", "classes"] == 10
    assert table["source"].str.contains("CC BY 4.0|ProPublica").all()


# ------------------------------------------------------------------------ preprocessing


def test_preprocessor_names_and_encodes_every_kind(mixed: pd.DataFrame) -> None:
    out = TabularPreprocessor().fit_transform(mixed)
    assert out.columns.tolist() == [
        "income",
        "income=missing",
        "children",
        "owner",
        "job=clerk",
        "job=farmer",
        "job=nurse",
        "job=missing",
    ]
    assert (out.dtypes == np.float32).all()
    assert out.index.equals(mixed.index)
    assert not out.isna().any().any()
    assert out["owner"].tolist() == [1, 0, 1, 1, 0]
    assert out["income=missing"].tolist() == [0, 0, 1, 0, 0]
    assert out["job=missing"].tolist() == [0, 0, 1, 0, 0]
    assert out.filter(like="job=").sum(axis=1).tolist() == [1] * 5
    # The NaN income is the training median, 25.0, i.e. the mean after scaling.
    np.testing.assert_allclose(out["income"].mean(), 0, atol=1e-6)
    assert out.loc[2, "income"] == pytest.approx(0, abs=1e-6)


def test_preprocessor_without_scaling_or_indicator_imputes_the_median(
    mixed: pd.DataFrame,
) -> None:
    out = TabularPreprocessor(scale=False, missing="impute").fit_transform(mixed)
    assert "income=missing" not in out.columns
    assert out["income"].tolist() == [10, 20, 25, 40, 30]
    assert out["children"].tolist() == [0, 1, 2, 1, 0]


def test_preprocessor_uses_training_statistics_only() -> None:
    prep = TabularPreprocessor().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    out = prep.transform(pd.DataFrame({"x": [10.0, 20.0]}))
    std = np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out["x"], [(10 - 2) / std, (20 - 2) / std], rtol=1e-6)


def test_constant_column_has_scale_one() -> None:
    out = TabularPreprocessor().fit_transform(pd.DataFrame({"c": [5, 5, 5], "x": [1, 2, 3]}))
    assert out["c"].tolist() == [0, 0, 0]


def test_unseen_category_gives_zeros(mixed: pd.DataFrame) -> None:
    prep = TabularPreprocessor().fit(mixed)
    new = mixed.head(2).assign(job=["astronaut", "nurse"])
    out = prep.transform(new)
    assert out.filter(like="job=").sum(axis=1).tolist() == [0, 1]


def test_rare_categories_share_other() -> None:
    frame = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c", "d"]})
    prep = TabularPreprocessor(max_categories=3).fit(frame)
    assert prep.get_feature_names_out().tolist() == ["c=a", "c=b", "c=other"]
    out = prep.transform(frame)
    assert out["c=other"].tolist() == [0] * 8 + [1, 1]


def test_missing_column_is_named(mixed: pd.DataFrame) -> None:
    prep = TabularPreprocessor().fit(mixed)
    with pytest.raises(InputError, match=r"without the column\(s\) 'job'"):
        prep.transform(mixed.drop(columns="job"))
    # Extra columns are ignored (a CSV may still hold the target).
    assert prep.transform(mixed.assign(target=1)).shape == (5, 8)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame(), r"0 sample\(s\)"),
        (pd.DataFrame(index=range(3)), r"0 feature\(s\)"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate column names: 'a'"),
        (pd.DataFrame({"when": pd.to_datetime(["2020-01-01"])}), "column 'when' of dtype"),
    ],
)
def test_bad_tables_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        TabularPreprocessor().fit(frame)


def test_numeric_column_with_text_at_transform_is_refused() -> None:
    prep = TabularPreprocessor().fit(pd.DataFrame({"age": [30, 40]}))
    with pytest.raises(InputError, match="learned column 'age' as numeric"):
        prep.transform(pd.DataFrame({"age": ["30", "?"]}))


def test_series_and_bad_parameters_are_refused() -> None:
    with pytest.raises(InputTypeError, match="to_frame"):
        TabularPreprocessor().fit(pd.Series([1, 2], name="x"))
    with pytest.raises(ParameterError, match=r"'missing' parameter.*'indicator'"):
        TabularPreprocessor(missing="indicatr").fit(pd.DataFrame({"x": [1]}))


def test_arrays_get_positional_names() -> None:
    out = TabularPreprocessor().fit_transform([[1.0, "a"], [2.0, "b"]])
    assert out.columns.tolist() == ["x0", "x1=a", "x1=b"]


def test_preprocessor_works_with_clone_and_pipeline() -> None:
    german = load_dataset("german_credit")
    prep = TabularPreprocessor(max_categories=5)
    assert clone(prep).get_params() == prep.get_params()
    model = make_pipeline(prep, LogisticRegression(max_iter=500))
    model.fit(german.frame, german.target)
    assert model.score(german.frame, german.target) > 0.7
    names = model[0].get_feature_names_out()
    assert "purpose=other" in names
    assert not hasattr(clone(model)[0], "feature_names_out_")  # clone is unfitted


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_preprocessor_passes_sklearn_checks() -> None:
    check_estimator(TabularPreprocessor())


# ------------------------------------------------------------------------------ splitting


def test_split_is_stratified_and_readable(adult_split: DatasetSplit) -> None:
    split = adult_split
    assert len(split.X_train) + len(split.X_test) == ROWS["adult"]
    assert len(split.X_test) == pytest.approx(0.3 * ROWS["adult"], abs=1)
    assert "workclass=Private" in split.feature_names
    assert "age" in split.feature_names
    assert split.feature_names == split.X_train.columns.tolist()
    assert split.X_test.columns.tolist() == split.feature_names
    assert not split.X_train.isna().any().any()
    assert not split.X_test.isna().any().any()
    assert split.class_names == ["<=50K", ">50K"]
    share = [np.mean(y == ">50K") for y in (split.y_train, split.y_test)]
    assert share[0] == pytest.approx(share[1], abs=1e-3)
    assert split.name == "adult"


def test_split_scaler_sees_training_rows_only(adult_split: DatasetSplit) -> None:
    raw = split_dataset("adult", random_state=0, preprocess=False)
    assert raw.preprocessor is None
    assert raw.X_train.index.equals(adult_split.X_train.index)
    assert adult_split.X_train["age"].mean() == pytest.approx(0, abs=1e-5)
    assert adult_split.X_train["age"].std(ddof=0) == pytest.approx(1, abs=1e-4)
    train_age = raw.X_train["age"].astype(float)
    expected = (raw.X_test["age"] - train_age.mean()) / train_age.std(ddof=0)
    np.testing.assert_allclose(adult_split.X_test["age"], expected, rtol=1e-5)
    assert adult_split.X_test["age"].mean() != pytest.approx(0, abs=1e-4)


def test_split_rejects_bad_test_size() -> None:
    with pytest.raises(ParameterError, match=re.escape("'test_size' parameter")):
        split_dataset("iris", test_size=1.5)


def test_a_csv_with_a_repeated_header_name_says_how_to_rename_it(tmp_path) -> None:
    """COMPAS's published CSV repeats 'decile_score': the error names the repeat and two
    ways out (rename it, or let pandas.read_csv suffix it and save again)."""
    from interpretable_kd.datasets.csv import read_csv

    path = tmp_path / "scores.csv"
    path.write_text("age,decile_score,decile_score,label\n30,4,4,yes\n41,7,7,no\n")
    with pytest.raises(InputError) as info:
        read_csv(path, "--data")
    message = str(info.value)
    assert "duplicate column names 'decile_score'" in message
    assert "'decile_score_2'" in message and "'decile_score.1'" in message
