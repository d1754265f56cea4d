"""Bundled and scikit-learn data sets, preprocessing that keeps feature names readable,
reading a user's CSV file, and the one train/test split.

- :func:`load_dataset` returns a :class:`Dataset`: raw, human-readable features (a pandas
  DataFrame, categories as strings), class labels as readable strings and the provenance
  of the data. Bundled: ``"adult"``, ``"compas"`` and ``"german_credit"`` (files in
  ``interpretable_kd/data/``, see ``PROVENANCE.md`` there); from scikit-learn, offline:
  ``"breast_cancer"``, ``"wine"``, ``"digits"`` and ``"iris"`` (``_bundled.py``).
- :class:`TabularPreprocessor` turns any DataFrame (a bundled data set or an arbitrary
  CSV) into float32 features whose names a person can read: numeric columns keep their
  name, categories become one-hot columns named ``column=value`` (``workclass=Private``)
  (``preprocessing.py``).
- :func:`read_labelled_csv` reads a user's CSV file, its labels and optional teacher
  scores, with a message that says what to fix for every problem (``csv.py``).
- :func:`split_dataset` makes a stratified train/test split and fits the preprocessor on
  the training rows only; :func:`train_test_indices` is the split itself (``split.py``).

Example::

    from interpretable_kd.datasets import load_dataset, split_dataset

    split = split_dataset(load_dataset("adult"), random_state=0)
    split.X_train.shape        # (34189, 107), float32 DataFrame
    split.feature_names[:3]    # ['age', 'workclass=Federal-gov', 'workclass=Local-gov']
"""

from ._bundled import DATASET_NAMES, Dataset, list_datasets, load_dataset
from .csv import LabelledTable, read_labelled_csv
from .preprocessing import TabularPreprocessor
from .split import DatasetSplit, split_dataset, train_test_indices

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "DatasetSplit",
    "LabelledTable",
    "TabularPreprocessor",
    "list_datasets",
    "load_dataset",
    "read_labelled_csv",
    "split_dataset",
    "train_test_indices",
]
