"""SoftDecisionTreeClassifier: the model, its loss and penalty, reading it, the sklearn
contract and distillation."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from interpretable_kd._training import Targets
from interpretable_kd.distill import DistilledClassifier
from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError
from interpretable_kd.students import SoftDecisionTreeClassifier
from interpretable_kd.students.soft_tree import (
    DecisionStep,
    _SoftTreeModule,
    _tree_loss,
    balancing_penalty,
    right_share,
)

from .strategies import feature_rows

FAST = {"max_epochs": 30, "learning_rate": 0.05, "random_state": 0}


@pytest.fixture(scope="module")
def fitted_trees(multiclass_data: tuple[np.ndarray, np.ndarray]) -> dict[int, Any]:
    """Trees of depth 1, 3 and 6 on the 3-class data; do not refit them."""
    X, y = multiclass_data
    return {d: SoftDecisionTreeClassifier(depth=d, **FAST).fit(X, y) for d in (1, 3, 6)}


@pytest.fixture(scope="module")
def frame_data(multiclass_data: tuple[np.ndarray, np.ndarray]) -> tuple[pd.DataFrame, Any]:
    X, y = multiclass_data
    names = ["age", "income", "debt", "tenure", "score", "visits"]
    return pd.DataFrame(X, columns=names), y


# ------------------------------------------------------------------ scikit-learn contract
# scikit-learn's conformance suite runs over every public estimator, this one included, in
# test_sklearn_compat.py.


def test_clone_and_pickle_round_trip(
    fitted_trees: dict[int, Any], multiclass_data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = multiclass_data
    tree = fitted_trees[3]
    assert clone(tree).get_params() == tree.get_params()
    assert not hasattr(clone(tree), "module_")
    restored = pickle.loads(pickle.dumps(tree))
    np.testing.assert_array_equal(restored.predict_proba(X), tree.predict_proba(X))
    np.testing.assert_array_equal(restored.leaf_counts_, tree.leaf_counts_)


def test_same_random_state_gives_identical_predictions(
    multiclass_data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = multiclass_data
    a = SoftDecisionTreeClassifier(depth=3, **{**FAST, "max_epochs": 5}).fit(X, y)
    b = SoftDecisionTreeClassifier(depth=3, **{**FAST, "max_epochs": 5}).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# ------------------------------------------------------------------ model
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(depth=st.sampled_from([1, 3, 6]), X=feature_rows(n_features=6))
def test_path_probabilities_sum_to_one_on_every_row(
    fitted_trees: dict[int, Any], depth: int, X: np.ndarray
) -> None:
    P = fitted_trees[depth].path_probabilities(X)
    assert P.shape == (X.shape[0], 2**depth)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)


def test_max_path_prediction_is_the_most_probable_leafs_distribution(
    fitted_trees: dict[int, Any], multiclass_data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = multiclass_data
    tree = clone(fitted_trees[6])
    tree.__dict__.update(fitted_trees[6].__dict__)
    tree.set_params(prediction="max_path")
    leaf = tree.path_probabilities(X).argmax(axis=1)
    Q = tree.leaf_distributions_
    np.testing.assert_array_equal(tree.predict(X), tree.classes_[Q[leaf].argmax(axis=1)])
    np.testing.assert_allclose(tree.predict_proba(X), Q[leaf], atol=1e-6)
    np.testing.assert_array_equal(tree.apply(X), leaf)


def test_mixture_prediction_is_the_path_weighted_average(
    fitted_trees: dict[int, Any], multiclass_data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = multiclass_data
    tree = clone(fitted_trees[6])
    tree.__dict__.update(fitted_trees[6].__dict__)
    tree.set_params(prediction="mixture")
    expected = tree.path_probabilities(X) @ tree.leaf_distributions_
    np.testing.assert_allclose(tree.predict_proba(X), expected, atol=1e-5)
    agreement = tree.prediction_agreement(X)
    max_path = clone(tree).set_params(prediction="max_path")
    max_path.__dict__.update({k: v for k, v in tree.__dict__.items() if k.endswith("_")})
    manual = np.mean(max_path.predict(X) == tree.predict(X))
    assert agreement == pytest.approx(manual)


def test_depth_12_trains_with_finite_loss_and_predictions(
    multiclass_data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = multiclass_data
    X_big = X[:120] * 50.0  # saturates the sigmoids: path probabilities far below 1e-38
    for loss in ("paper", "mixture"):
        tree = SoftDecisionTreeClassifier(
            depth=12, loss=loss, max_epochs=2, batch_size=60, early_stopping=False, random_state=0
        ).fit(X_big, y[:120])
        assert all(math.isfinite(h["train_loss"]) for h in tree.history_)
        assert np.isfinite(tree.predict_proba(X_big)).all()
        P = tree.path_probabilities(X_big)
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-4)
        assert tree.n_leaves_ == 4096


def test_batch_loss_stays_finite_and_differentiable_at_depth_12() -> None:
    module = _SoftTreeModule(4, 3, 12, 5.0, False, 0.0)
    X = torch.randn(32, 4) * 100.0
    log_leaf, log_reach, log_right = module(X)
    assert torch.isfinite(log_leaf).all() and torch.isfinite(log_reach).all()
    assert (log_leaf < -100).any()  # underflows to 0 outside log space
    targets = Targets(
        torch.randint(0, 3, (32,)), torch.log_softmax(torch.randn(32, 3), dim=1), 2.0, 0.3
    )
    for loss in ("paper", "mixture"):
        value = _tree_loss(module, log_leaf, targets, loss)
        value = value + balancing_penalty(
            right_share(log_reach, log_right), module.penalty_depth_weights, 0.1
        )
        grads = torch.autograd.grad(value, list(module.parameters()), retain_graph=True)
        assert torch.isfinite(value)
        assert all(torch.isfinite(g).all() for g in grads)


def test_losses_match_the_formulas_on_a_hand_built_tree() -> None:
    """Depth 1 with a zero filter: both leaves are reached with probability 1/2."""
    module = _SoftTreeModule(2, 2, 1, 1.0, False, 0.0)
    with torch.no_grad():
        module.inner.weight.zero_()
        module.inner.bias.zero_()
        module.leaf_logits.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
    X = torch.zeros(1, 2)
    log_leaf, _, _ = module(X)
    np.testing.assert_allclose(log_leaf.exp().detach().numpy(), [[0.5, 0.5]], atol=1e-7)
    q = torch.softmax(module.leaf_logits, dim=1).detach()
    y = torch.tensor([1])
    hard = Targets(y, None, 1.0, 1.0)
    paper = -0.5 * (q[0, 1].log() + q[1, 1].log())
    mixture = -(0.5 * (q[0, 1] + q[1, 1])).log()
    log_leaf = log_leaf.detach()

    def value(targets: Targets, loss: str) -> float:
        return float(_tree_loss(module, log_leaf, targets, loss).detach())

    assert value(hard, "paper") == pytest.approx(float(paper))
    assert value(hard, "mixture") == pytest.approx(float(mixture))
    # soft term, T = 2, w = 0.25: w * H + (1 - w) * T^2 * sum_l P_l KL(p || softmax(phi_l / T))
    p = torch.tensor([[0.3, 0.7]])
    qt = torch.softmax(module.leaf_logits / 2.0, dim=1).detach()
    kl = (p * (p.log() - qt.log())).sum(dim=1)
    expected = 0.25 * paper + 0.75 * 4.0 * 0.5 * kl.sum()
    soft = Targets(y, p.log(), 2.0, 0.25)
    assert value(soft, "paper") == pytest.approx(float(expected))


# ------------------------------------------------------------------ balancing penalty
def test_penalty_has_zero_gradient_at_one_half() -> None:
    share = torch.full((7,), 0.5, requires_grad=True)
    weights = 2.0 ** -torch.tensor([0.0, 1, 1, 2, 2, 2, 2])
    (grad,) = torch.autograd.grad(balancing_penalty(share, weights, 0.3), share)
    np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-7)
    lopsided = torch.tensor([0.9], requires_grad=True)
    (grad,) = torch.autograd.grad(balancing_penalty(lopsided, torch.ones(1), 1.0), lopsided)
    # d/da of -1/2 [log a + log(1 - a)] = -1/2 (1/a - 1/(1 - a)) > 0 above 1/2
    assert float(grad) == pytest.approx(-0.5 * (1 / 0.9 - 1 / 0.1))


def test_penalty_gives_no_gradient_to_a_perfectly_balanced_tree() -> None:
    tree = SoftDecisionTreeClassifier(depth=3, penalty_strength=1.0)
    module = tree._build_module(4, 2)
    with torch.no_grad():
        module.inner.weight.zero_()
        module.inner.bias.zero_()
    _, log_reach, log_right = module(torch.randn(16, 4))
    penalty = tree._smoothed_penalty(module, log_reach, log_right)
    grads = torch.autograd.grad(penalty, [module.inner.weight, module.inner.bias])
    assert all(float(g.abs().max()) < 1e-6 for g in grads)
    expected = -sum(2.0**-d for d in (0, 1, 1, 2, 2, 2, 2)) * math.log(0.5)
    assert float(penalty.detach()) == pytest.approx(expected)


def test_running_average_window_grows_with_depth() -> None:
    module = SoftDecisionTreeClassifier(depth=3, penalty_decay=0.5)._build_module(2, 2)
    decays = module.penalty_decays.numpy()
    np.testing.assert_allclose(decays, [0.5, 0.75, 0.75, 0.875, 0.875, 0.875, 0.875])


# ------------------------------------------------------------------ reading the tree
def test_explain_names_real_features(frame_data: tuple[pd.DataFrame, Any]) -> None:
    X, y = frame_data
    tree = SoftDecisionTreeClassifier(depth=3, **FAST).fit(X, y)
    steps = tree.explain(X.iloc[[4]], top_k=2)
    assert len(steps) == 3 and all(isinstance(s, DecisionStep) for s in steps)
    assert [s.depth for s in steps] == [0, 1, 2]
    assert steps[-1].child.startswith("leaf ")
    for step in steps:
        assert len(step.features) == 2
        assert {f.name for f in step.features} <= set(X.columns)
        assert step.direction in ("left", "right")
        assert 0.0 <= step.probability <= 1.0
    assert steps[-1].path_probability == pytest.approx(
        tree.path_probabilities(X.iloc[[4]]).max(), rel=1e-4
    )
    leaf = int(steps[-1].child.split()[1])
    assert tree.classes_[tree.leaf_distributions_[leaf].argmax()] == tree.predict(X.iloc[[4]])[0]
    assert any(name in str(steps[0]) for name in X.columns)
    assert any(f"*{name}" in tree.to_text() for name in X.columns)
    # a Series (one row) works too
    assert tree.explain(X.iloc[4]) == tree.explain(X.iloc[[4]])


def test_tables_record_how_training_rows_spread(
    fitted_trees: dict[int, Any], multiclass_data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = multiclass_data
    tree = fitted_trees[3]
    nodes = tree.node_table()
    assert list(nodes["node"]) == list(range(7))
    assert list(nodes["depth"]) == [0, 1, 1, 2, 2, 2, 2]
    assert nodes.loc[0, "reach"] == 1.0
    assert nodes.loc[1, "reach"] + nodes.loc[2, "reach"] == pytest.approx(1.0)
    assert nodes["top_features"].str.contains("x").all()
    leaves = tree.leaf_table()
    assert leaves["n_rows"].sum() == X.shape[0]
    assert leaves["share"].sum() == pytest.approx(1.0)
    assert {"p(0)", "p(1)", "p(2)"} <= set(leaves.columns)
    text = tree.to_text()
    assert text.count("leaf ") == 8 and text.count("node ") == 7
    short = tree.to_text(max_depth=0).splitlines()
    assert [line.strip() for line in short[1:]] == ["no  -> node 1: ...", "yes -> node 2: ..."]
    assert tree.to_text(max_depth=2) == text
    assert 1 / 8 <= tree.mean_max_path_probability(X) <= 1.0


def test_node_filters_as_images(fitted_trees: dict[int, Any]) -> None:
    tree = fitted_trees[3]
    images = tree.node_filters_as_images(shape=(2, 3))
    assert images.shape == (7, 2, 3)
    np.testing.assert_allclose(images[2].ravel(), tree.node_weights_[2])
    with pytest.raises(InputError, match=r"must have 6 pixels in all .* Got \(8, 8\), 64 pixels"):
        tree.node_filters_as_images()


def test_learned_inverse_temperature_is_trained(
    multiclass_data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = multiclass_data
    tree = SoftDecisionTreeClassifier(
        depth=2, inverse_temperature=2.0, learn_inverse_temperature=True, **FAST
    ).fit(X, y)
    assert tree.inverse_temperature_ != pytest.approx(2.0)
    fixed = SoftDecisionTreeClassifier(depth=2, inverse_temperature=2.0, **FAST).fit(X, y)
    assert fixed.inverse_temperature_ == pytest.approx(2.0)


# ------------------------------------------------------------------ distillation
def test_distillation_through_distilled_classifier(
    multiclass_data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = multiclass_data
    teacher = LogisticRegression(max_iter=500).fit(X, y)
    kd = DistilledClassifier(
        teacher,
        SoftDecisionTreeClassifier(depth=3, **FAST),
        temperature=1.0,
        hard_label_weight=0.0,
        finetune_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert kd.fidelity(X) > 0.8
    assert kd.student_.leaf_counts_.sum() == X.shape[0]
    label_free = DistilledClassifier(
        teacher, SoftDecisionTreeClassifier(depth=2, **FAST), temperature=2.0, random_state=0
    ).fit(X)
    assert label_free.fidelity(X) > 0.7


def test_grid_search_over_student_depth(multiclass_data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = multiclass_data
    teacher = LogisticRegression(max_iter=500).fit(X, y)
    search = GridSearchCV(
        DistilledClassifier(
            teacher, SoftDecisionTreeClassifier(max_epochs=5, random_state=0), random_state=0
        ),
        {"student__depth": [1, 2]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["student__depth"] in (1, 2)
    assert search.best_estimator_.teacher is teacher


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"depth": 0}, ParameterError, r"'depth' parameter .* range \[1, 16\]\. Got 0 instead"),
        ({"depth": 30}, ParameterError, r"Got 30 instead\. A tree of depth d has 2\^d leaves"),
        ({"depth": 2.5}, InputTypeError, r"'depth' parameter .* must be an int"),
        (
            {"prediction": "maxpath"},
            ParameterError,
            r"'prediction' parameter .* 'hard_path', 'max_path', 'mixture'\. Got 'maxpath' "
            r"instead\. "
            r"Did you mean 'max_path'\?",
        ),
        ({"loss": "kl"}, ParameterError, r"'loss' parameter .* one of 'paper', 'mixture'"),
        ({"inverse_temperature": 0.0}, ParameterError, r"'inverse_temperature' .* \(0, inf\)"),
        ({"penalty_decay": 1.0}, ParameterError, r"'penalty_decay' .* \[0, 1\)\. Got 1\.0"),
        ({"penalty_strength": -1.0}, ParameterError, r"'penalty_strength' .* \[0, inf\]"),
    ],
)
def test_bad_parameters_are_rejected_at_fit(
    binary_data: tuple[np.ndarray, np.ndarray], params: dict[str, Any], error: type, match: str
) -> None:
    X, y = binary_data
    tree = SoftDecisionTreeClassifier(**params)  # __init__ accepts anything
    with pytest.raises(error, match=match):
        tree.fit(X, y)


def test_explain_needs_exactly_one_row(fitted_trees: dict[int, Any]) -> None:
    with pytest.raises(InputError, match=r"explain needs one row; got 2 rows"):
        fitted_trees[1].explain(np.zeros((2, 6)))
    with pytest.raises(ValueError, match=r"X has 3 features, but SoftDecisionTreeClassifier"):
        fitted_trees[1].explain(np.zeros(3))


def test_to_text_shows_plain_class_labels() -> None:
    """Regression: labels from a numpy array used to print as np.str_('yes')."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.array(["no", "yes"])[(X[:, 0] > 0).astype(int)]
    text = SoftDecisionTreeClassifier(depth=1, max_epochs=5, random_state=0).fit(X, y).to_text()
    assert "np.str_" not in text
    assert "class 'no'" in text or "class 'yes'" in text
