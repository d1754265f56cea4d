"""The additive student's readable parts: shapes, pair grids, importances and exact
Shapley values (:class:`AdditiveReadable`, mixed into
:class:`~interpretable_kd.students.additive.AdditiveClassifier`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from .._validation import check_fitted, check_X
from ..exceptions import InputError
from ._additive_module import AdditiveModule
from ._additive_solver import feature_groups

__all__ = ["AdditiveReadable"]


class AdditiveReadable:
    """What a fitted additive model shows: every reader of ``module_`` (an
    :class:`~._additive_module.AdditiveModule`) in the user's units and names."""

    if TYPE_CHECKING:
        module_: AdditiveModule
        n_features_in_: int
        classes_: np.ndarray

        def logits(self, X: Any) -> np.ndarray: ...

    def _names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(int(self.n_features_in_))]

    def _units(self) -> tuple[np.ndarray, np.ndarray]:
        """``x_mean_`` and ``x_scale_`` (identity for a model without them)."""
        d = int(self.n_features_in_)
        mean = np.asarray(self.__dict__.get("x_mean_", np.zeros(d)), dtype=np.float64)
        scale = np.asarray(self.__dict__.get("x_scale_", np.ones(d)), dtype=np.float64)
        return mean, scale

    def _output_labels(self) -> list[Any]:
        classes = list(self.classes_)
        return classes[1:] if len(classes) == 2 else classes

    @property
    def interactions_(self) -> list[tuple[str, str]]:
        check_fitted(self, "module_")
        names = self._names()
        pairs = self.module_.pairs[: int(self.module_.n_pairs)].tolist()
        return [(names[i], names[j]) for i, j in pairs]

    @property
    def intercept_(self) -> np.ndarray:
        check_fitted(self, "module_")
        return self.module_.bias.detach().cpu().numpy().copy()

    @property
    def base_values_(self) -> np.ndarray:
        check_fitted(self, "module_")
        module = self.module_
        means = module.pair_means[: int(module.n_pairs)].sum(0)
        return (module.bias.detach() + means).cpu().numpy()

    @property
    def term_importances_(self) -> pd.DataFrame:
        check_fitted(self, "module_")
        module = self.module_
        d, P = int(self.n_features_in_), int(module.n_pairs)
        importance = module.importance.cpu().numpy()
        names = self._names()
        terms = names + [f"{a} x {b}" for a, b in self.interactions_]
        frame = pd.DataFrame(
            {
                "term": terms,
                "importance": np.concatenate([importance[:d], importance[d : d + P]]),
                "kind": ["main"] * d + ["pair"] * P,
            }
        )
        return frame.sort_values("importance", ascending=False, kind="stable").reset_index(
            drop=True
        )

    def decision_function(self, X: Any) -> np.ndarray:
        """Decision values z: shape (n_rows,) for two classes (log-odds of
        ``classes_[1]``), else (n_rows, n_classes) logits."""
        logits = self.logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def _term_values(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        check_fitted(self, "module_")
        X_checked = check_X(self, X, reset=False)
        # as logits() does: rows cast to the module's dtype (float64), then standardised
        x = torch.from_numpy(np.ascontiguousarray(X_checked)).to(self.module_.bias)
        standardise = getattr(self, "_standardise_tensor", None)
        with torch.no_grad():
            mains, pairs = self.module_.terms(x if standardise is None else standardise(x))
        return mains.cpu().numpy(), pairs.cpu().numpy()

    def explain(self, X: Any, target: Any = None) -> pd.DataFrame:
        """Each feature's contribution to each row's decision value: its exact
        interventional Shapley value against the training rows (no sampling).

        For the class logit ``z_t`` (two classes: the log-odds of ``classes_[1]``),
        ``phi_j(x) = f_j(x_j) + sum_{p containing j} (g_p(x) - mean_rows g_p) / 2``.
        A main effect's Shapley value is ``f_j(x_j) - E f_j = f_j(x_j)`` (centred). A pair
        term is doubly centred against the training rows' marginals
        (``E_rows g_p(x_i, X_j) = 0`` for every x_i, and in x_j), so its Shapley value
        splits ``g_p(x) - E_rows g_p`` equally between its two features. Hence
        ``explain(X).sum(1) + base_values_[t] == z_t(x)`` and these are the values
        :func:`interpretable_kd.attributions.explain` computes by enumeration for the
        logit of class t, with the training rows (all of them, equal weights) as
        background.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_rows, n_features)
            Rows.
        target : int, array of int of shape (n_rows,), or None
            Output explained per row: for two classes only 0 (the log-odds); for more,
            a class index per row. None: 0 for two classes, the predicted class else.

        Returns
        -------
        DataFrame of shape (n_rows, n_features)
            Contributions, one column per feature (the model's feature names).
        """
        mains, pairs = self._term_values(X)
        n, _, o = mains.shape
        if target is None:
            t = np.zeros(n, dtype=np.int64) if o == 1 else (mains.sum(1) + pairs.sum(1)).argmax(1)
        else:
            t = np.broadcast_to(np.asarray(target), (n,)).astype(np.int64)
            if t.min(initial=0) < 0 or t.max(initial=0) >= o:
                raise InputError(
                    f"{type(self).__name__}.explain needs target in 0..{o - 1} (one index "
                    f"per output; two classes have one output, the log-odds); got "
                    f"{sorted(set(np.unique(t).tolist()))}. Pass target=None or class indices."
                )
        rows = np.arange(n)
        values = mains[rows, :, t].copy()
        module = self.module_
        centred = pairs - module.pair_means[: pairs.shape[1]].cpu().numpy()
        for p, (i, j) in enumerate(module.pairs[: pairs.shape[1]].tolist()):
            half = centred[rows, p, t] / 2.0
            values[:, i] += half
            values[:, j] += half
        return pd.DataFrame(values, columns=self._names())

    def shape_functions(self) -> pd.DataFrame:
        """Every main effect at its knots, in the user's units (the shape is linear
        between consecutive knots and flat beyond the ends).

        Returns
        -------
        DataFrame
            Columns ``feature``, ``x`` (original units), ``class`` (the output's class:
            ``classes_[1]`` for two classes, whose log-odds it is), ``contribution``
            (centred on the training rows). One row per (feature, knot, output).
        """
        check_fitted(self, "module_")
        module = self.module_
        d, K, o = int(self.n_features_in_), module.n_knots, module.n_out
        mean, scale = self._units()
        table = module.main.detach().view(d, K, o).cpu().numpy()
        knots = module.knots.cpu().numpy()
        labels = self._output_labels()
        parts = []
        for j, name in enumerate(self._names()):
            m = int(module.n_active[j])
            x = knots[j, :m] * scale[j] + mean[j]
            for k in range(o):
                parts.append(
                    pd.DataFrame(
                        {
                            "feature": name,
                            "x": x,
                            "class": labels[k],
                            "contribution": table[j, :m, k],
                        }
                    )
                )
        return pd.concat(parts, ignore_index=True)

    def interaction_functions(self) -> list[dict[str, Any]]:
        """Every pair term on its grid, in the user's units.

        Returns
        -------
        list of dict
            Per pair: ``features`` (two names), ``x`` and ``y`` (grid values of the two
            features, original units), ``values`` (array of shape (len(x), len(y),
            n_out), the doubly-centred term at the grid points).
        """
        check_fitted(self, "module_")
        module = self.module_
        mean, scale = self._units()
        G, o = module.grid, module.n_out
        grids = module.pair.detach().view(module.max_pairs, G, G, o).cpu().numpy()
        out = []
        for p, names in enumerate(self.interactions_):
            i, j = module.pairs[p].tolist()
            mi, mj = module.pair_active[p].tolist()
            knots = module.pair_knots[p].cpu().numpy()
            out.append(
                {
                    "features": names,
                    "x": knots[0, :mi] * scale[i] + mean[i],
                    "y": knots[1, :mj] * scale[j] + mean[j],
                    "values": grids[p, :mi, :mj].copy(),
                }
            )
        return out

    @property
    def n_parameters_(self) -> int:
        """Free values of the fitted model: the used knots of every shape and cells of
        every pair grid, times outputs, plus intercepts (the weight tables' padding past
        a feature's knots or a pair's grid is not counted)."""
        check_fitted(self, "module_")
        module = self.module_
        o = module.n_out
        active = int(module.n_active.sum())
        P = int(module.n_pairs)
        cells = int((module.pair_active[:P, 0] * module.pair_active[:P, 1]).sum()) if P else 0
        return (active + cells) * o + o

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted model is.

        Parameters
        ----------
        X : array-like or None
            Ignored.

        Returns
        -------
        dict
            ``parameters`` (free values: used knots per shape and grid cells per pair,
            times outputs, plus intercepts), ``shape_functions`` (features with a
            non-constant shape), ``interactions`` (pair terms).
        """
        check_fitted(self, "module_")
        module = self.module_
        importance = module.importance.cpu().numpy()[: int(self.n_features_in_)]
        return {
            "parameters": self.n_parameters_,
            "shape_functions": int(np.count_nonzero(importance > 1e-12)),
            "interactions": int(module.n_pairs),
        }

    def readable_view(self) -> dict[str, Any]:
        """The shapes, importances and pair terms, as plain data for the report.

        Returns
        -------
        dict
            ``"view"``: ``"additive"``; ``"groups"``: :func:`feature_groups` of the
            feature names; ``"shapes"``: :meth:`shape_functions`;
            ``"importances"``: :attr:`term_importances_`; ``"interactions"``:
            :meth:`interaction_functions`; ``"intercept"``: :attr:`intercept_`;
            ``"outputs"``: the class of each output (one for two classes: the log-odds
            of ``classes_[1]``).
        """
        return {
            "view": "additive",
            "groups": feature_groups(self._names()),
            "shapes": self.shape_functions(),
            "importances": self.term_importances_,
            "interactions": self.interaction_functions(),
            "intercept": self.intercept_,
            "outputs": [str(c) for c in self._output_labels()],
        }
