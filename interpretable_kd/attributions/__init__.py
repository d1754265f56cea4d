"""SHAP-style explanations of any classifier, and metrics of how much two explanations agree.

Explanations
------------
:func:`explain` computes interventional Shapley values of ``P(class t_i | x_i)``, the model's
probability for one class per row, for any object with ``predict_proba``. The value of a
coalition S of features for row x is

    v(S) = sum_b w_b * f_t(x_S, z_b,~S),

the model's probability for class t when the features in S come from x and the others from
background row z_b (weights w_b sum to 1). Shapley values ``phi_j`` split
``v(all) - v(none) = f_t(x) - E_b f_t(z_b)`` among the features, so
``values.sum(1) + base_values == f_t(x)`` (completeness).

Methods: exact enumeration of all 2^d coalitions (``"exact"``), a vectorised antithetic
permutation-sampling estimator (``"permutation"``), shap's KernelExplainer (``"kernel"``, a
slow reference) and a closed form for linear models in their decision (logit) space
(``"linear"``, a cross-check only). All methods evaluate the model on large stacked
batches, so one call explains hundreds of rows in seconds.

Agreement metrics
-----------------
After Krishna et al. (2022), "The Disagreement Problem in Explainable Machine Learning: A
Practitioner's Perspective": per-row feature, rank, sign and signed-rank agreement of the
top-k features, rank correlation and pairwise rank agreement, plus
:func:`agreement_summary` with bootstrap confidence intervals.

Noise floor
-----------
Sampling-based explanations of the *same* model differ from run to run. To know how much
disagreement between a teacher and a student is real, explain the teacher twice with
different ``random_state`` values and measure its agreement with itself:
``explain(teacher, X, bg, random_state=1)`` vs ``explain(teacher, X, bg, random_state=2)``.
Each seed draws its own background subsample (when ``background`` has more than
``max_background`` rows) and its own permutations, so the two runs are independent.

Layout (as shap's ``explainers/`` and captum's ``attr/_core``): ``_result`` (the
:class:`Attributions` result type), ``_value`` (the model's value function and its batched
evaluation), one module per estimator (``exact``, ``permutation``, ``reference`` for
kernel and linear), ``_explain`` (:func:`explain`: checks, background summary, dispatch)
and ``agreement`` (the metrics). Imports flow in that order. Only this package imports
shap, and only inside functions, so ``import interpretable_kd`` stays fast.
"""

from __future__ import annotations

# Besides the public names, every constant and private helper of the former single
# module attributions.py stays importable from here (the ``X as X`` re-exports).
from ._explain import EXACT_LIMIT as EXACT_LIMIT
from ._explain import EXACT_MAX_FEATURES as EXACT_MAX_FEATURES
from ._explain import METHODS as METHODS
from ._explain import SUMMARIES as SUMMARIES
from ._explain import _matrix as _matrix
from ._explain import _resolve_target as _resolve_target
from ._explain import _summarize_background as _summarize_background
from ._explain import explain, explain_backend
from ._result import Attributions
from ._value import _evaluate as _evaluate
from ._value import _ModelFunction as _ModelFunction
from .agreement import _check_k as _check_k
from .agreement import _feature_indices as _feature_indices
from .agreement import _in_top as _in_top
from .agreement import _nanmean as _nanmean
from .agreement import _pair as _pair
from .agreement import _spearman_rows as _spearman_rows
from .agreement import _top_k as _top_k
from .agreement import _top_k_parts as _top_k_parts
from .agreement import (
    agreement_summary,
    feature_agreement,
    global_rank_correlation,
    pairwise_rank_agreement,
    rank_agreement,
    rank_correlation,
    sign_agreement,
    signed_rank_agreement,
)
from .exact import _exact_shapley as _exact_shapley
from .permutation import _permutation_shapley as _permutation_shapley
from .reference import _kernel_shapley as _kernel_shapley
from .reference import _linear_attributions as _linear_attributions

__all__ = [
    "Attributions",
    "agreement_summary",
    "explain",
    "explain_backend",
    "feature_agreement",
    "global_rank_correlation",
    "pairwise_rank_agreement",
    "rank_agreement",
    "rank_correlation",
    "sign_agreement",
    "signed_rank_agreement",
]
