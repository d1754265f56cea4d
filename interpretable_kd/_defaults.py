"""Defaults shared by more than one module, in one place.

Every module that needs one of these numbers imports it from here; none repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Weight w of the hard-label cross-entropy in the distillation objective. 0: pure
#: imitation of the teacher (what fidelity measures); raise it when accuracy on the true
#: labels matters more than standing for the teacher.
HARD_LABEL_WEIGHT = 0.0
#: Temperature T of the distillation objective when one number is used (a student's own
#: ``fit_distill``, and ``temperature="auto"`` on too few rows to search).
TEMPERATURE = 1.0
#: Share of the rows held out for the report when the library splits the data.
TEST_SIZE = 0.3
#: A student agreeing with its teacher on fewer rows than this gets a LowFidelityWarning.
LOW_FIDELITY = 0.9
#: Rows scored per forward pass at prediction time (bounds memory, not results).
PREDICT_BATCH_SIZE = 8192


@dataclass(frozen=True)
class Budget:
    """The command line's budget before the named presets (``PRESETS``, issue 12).

    The command line and ``workflow`` now use ``PRESETS``; only ``distributed`` still reads
    ``FULL.n_bootstrap`` (its default number of resamples).

    Attributes
    ----------
    teacher_epochs : int
        ``max_epochs`` of the MLP teacher.
    student_epochs : int
        ``max_epochs`` of every student.
    explain_rows : int
        Test rows whose attributions are computed.
    n_bootstrap : int
        Bootstrap resamples of the confidence intervals.
    max_background : int
        Most background rows of the attribution value function.
    """

    teacher_epochs: int
    student_epochs: int
    explain_rows: int
    n_bootstrap: int
    max_background: int


#: The former command-line default (see ``Budget``); kept for ``distributed``.
FULL = Budget(
    teacher_epochs=200, student_epochs=200, explain_rows=100, n_bootstrap=300, max_background=25
)

#: Largest deviation from 1 allowed in the sum of a row of class probabilities.
PROBA_SUM_TOLERANCE = 1e-3

# ------------------------------------------------------------------ torch training loop
# Constructor defaults of every TorchClassifier (students and MLPTeacher). "auto" means
# "chosen from the number of training rows" by ``_training.auto_training_sizes``; an
# explicit number is used as given (and trains exactly as before "auto" existed).

#: Default ``batch_size`` of every TorchClassifier.
BATCH_SIZE = "auto"
#: Default ``max_epochs`` of every TorchClassifier.
MAX_EPOCHS = "auto"
#: Default ``n_iter_no_change`` (early-stopping patience, in epochs).
N_ITER_NO_CHANGE = "auto"
#: Default ``n_jobs`` (torch threads during fit/predict): None = the library's rule,
#: ``_torch_utils.resolve_threads``.
N_JOBS = None

#: "auto" rule: aim for about this many optimiser steps in a full run.
AUTO_TARGET_STEPS = 1500
#: "auto" rule: batch size = n_rows / AUTO_BATCHES_PER_EPOCH, clipped to
#: [AUTO_MIN_BATCH, AUTO_MAX_BATCH] and rounded to a power of two.
AUTO_BATCHES_PER_EPOCH = 32
AUTO_MIN_BATCH = 64
AUTO_MAX_BATCH = 1024
#: "auto" rule: the epoch budget stays within [AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS].
AUTO_MIN_EPOCHS = 5
AUTO_MAX_EPOCHS = 200
#: "auto" rule: patience = max(AUTO_MIN_PATIENCE, AUTO_PATIENCE_FRACTION * epoch budget).
AUTO_PATIENCE_FRACTION = 0.25
AUTO_MIN_PATIENCE = 5
#: "auto" rule: the learning rate decays (cosine) to this fraction of ``learning_rate``
#: at the end of the epoch budget.
AUTO_FINAL_LR_FRACTION = 0.05

# ------------------------------------------------------------------ temperature="auto"
#: Default ``temperature`` of DistilledClassifier: "auto" searches TEMPERATURE_GRID.
DISTILL_TEMPERATURE = "auto"
#: Candidate temperatures of the search: below 1 sharpens (helps a small student match
#: the teacher's decisions), above 1 softens (helps it match the probabilities).
TEMPERATURE_GRID = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
#: The search trains each candidate on at most this many rows (a stratified sample).
TEMPERATURE_SEARCH_MAX_ROWS = 4000
#: At least this share of the rows is held out to score the candidates.
TEMPERATURE_VALIDATION_FRACTION = 0.25
#: Fewer transfer rows than this: no search, T = TEMPERATURE (with a warning).
TEMPERATURE_SEARCH_MIN_ROWS = 40
#: Thread rule (``_torch_utils.resolve_threads``): with ``n_jobs=None`` torch uses one
#: thread unless a forward pass works on at least this many rows at a time. Above every
#: batch the library makes itself (training <= AUTO_MAX_BATCH, prediction
#: PREDICT_BATCH_SIZE): on two shared cores a second thread made every measured size
#: 2 to 40 times slower (``benchmarks/threads.py``).
THREADS_MIN_ROWS = 65536

# ------------------------------------------------------------------ logistic student solver
#: Default ``solver`` of SoftLogisticRegression: "auto" solves the convex objective exactly
#: (L-BFGS, or FISTA for an L1 penalty) when rows x features <= EXACT_SOLVER_MAX_CELLS,
#: else falls back to the mini-batch Adam loop.
LOGISTIC_SOLVER = "auto"
#: Largest rows x features solved full-batch (on the float32 rows themselves; a float64
#: copy, 8 bytes a cell, 160 MB at the limit, only when ``tol`` < 1e-5).
EXACT_SOLVER_MAX_CELLS = 20_000_000
#: Default ``max_iter`` of SoftLogisticRegression: most L-BFGS / FISTA iterations.
LOGISTIC_MAX_ITER = 1000

# ------------------------------------------------------------------ out of core / Ray
# (interpretable_kd.distributed; batch size and epochs follow the students' "auto" rule,
# ``_training.auto_training_sizes``, on the source's row count)
#: Rows shuffled together in a streaming fit (the shuffle buffer; bounds memory).
STREAM_BUFFER_ROWS = 65536
#: Rows per record batch read, and per row group of the spill file.
STREAM_CHUNK_ROWS = 16384
#: Rows kept (a uniform reservoir sample) for the bootstrap intervals of a streaming
#: comparison.
STREAM_SAMPLE_ROWS = 10000

# ------------------------------------------------------------------ soft decision tree
#: Default ``max_features_per_node`` of SoftDecisionTreeClassifier. "auto": the smallest
#: number of features per split in SOFT_TREE_AUTO_FEATURES_PER_NODE whose tree stays
#: within SOFT_TREE_SPARSE_TOLERANCE of the dense tree's validation fidelity, else dense
#: splits; an int: at most that many; None: every weight.
SOFT_TREE_MAX_FEATURES_PER_NODE = "auto"
#: The sparse supports "auto" tries, smallest first.
SOFT_TREE_AUTO_FEATURES_PER_NODE = (5, 10)
#: Most validation fidelity "auto" gives up for sparser splits.
SOFT_TREE_SPARSE_TOLERANCE = 0.01
#: Effective weight s of the one feature of each split of a CART-initialised soft tree
#: (on standardised columns): the node goes right with probability sigmoid(s * (z - t)),
#: soft over about 1/s of a standard deviation around the threshold t.
SOFT_TREE_INIT_SHARPNESS = 4.0
#: A leaf that the hard path gives fewer than this share of the training rows is flagged
#: "near-empty" in the leaf table and the rules (0 rows: "dead").
SOFT_TREE_NEAR_EMPTY_LEAF_SHARE = 0.01

# ------------------------------------------------------------------ headline fidelity (issue 12)
#: A student whose fidelity on the teacher's worst-served class is below this is called
#: unfaithful (LowFidelityWarning, ``verdict()``), whatever its overall fidelity.
WORST_CLASS_FIDELITY = 0.8
#: ... and so is one whose Cohen's kappa with the teacher's decisions is below this
#: (agreement beyond what a constant student gets by predicting the majority class;
#: 0.6 is "substantial" agreement on the Landis-Koch scale).
MIN_KAPPA = 0.6


# ------------------------------------------------------------------ audit budgets (issue 12)
@dataclass(frozen=True)
class Preset:
    """One named audit budget, shared by the Python API and the command line.

    Attributes
    ----------
    name : str
        ``"quick"``, ``"standard"`` or ``"thorough"``.
    explain_rows : int
        Test rows whose attributions are computed.
    max_background : int
        Background rows of the attribution value function (a fresh seeded subsample per
        explanation run).
    n_permutations : int
        Orderings per background row of the permutation explainer.
    n_explanations : int
        R >= 2: independent explanation runs of the teacher and of each student (own
        background subsample and seed each); agreement is teacher run a vs student run b,
        the noise floor teacher run a vs teacher run b.
    n_bootstrap : int
        Bootstrap resamples of every interval.
    n_refits : int
        Training runs of each student (1: the given model only); with more, intervals
        cover refits x rows. Needs the training rows (``X_fit``).
    teacher_epochs, student_epochs : int or "auto"
        Epoch budgets of the command line's MLP teacher and students.
    """

    name: str
    explain_rows: int
    max_background: int
    n_permutations: int
    n_explanations: int
    n_bootstrap: int
    n_refits: int
    teacher_epochs: int | str
    student_epochs: int | str


#: The named budgets. ``standard`` is the default of ``DistillationReport.from_models``,
#: ``audit.compare`` and the command line; ``quick`` is ``--quick``.
PRESETS = {
    "quick": Preset("quick", 25, 15, 2, 2, 100, 1, 30, 30),
    "standard": Preset("standard", 100, 50, 2, 2, 500, 3, 200, "auto"),
    "thorough": Preset("thorough", 300, 150, 4, 3, 2000, 5, 200, "auto"),
}
#: The preset used when none is named.
DEFAULT_PRESET = "standard"
#: Attribution budget check: at least this many explained rows per feature, else the
#: report warns that the budget may be too small to separate a student from the floor.
MIN_EXPLAIN_ROWS_PER_FEATURE = 3
#: ... and at least this many background rows per feature.
MIN_BACKGROUND_PER_FEATURE = 1

# ------------------------------------------------------------------ hostile-input bounds
#: Range of every distillation temperature (``DistilledClassifier``, ``fit_distill``, the
#: CLI's ``--temperature``): beyond it softened targets underflow or overflow in float32
#: (T = 1e-40 or 1e20 give NaN losses), and no benchmark ever chose such a value.
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 100.0
#: Most memory ``DistilledClassifier(augment=...)`` may spend on synthetic rows (bytes):
#: a larger ``n_augment`` is refused before any row is made, with the estimate.
AUGMENT_MEMORY_BUDGET = 2 * 1024**3
#: Bytes per cell of a synthetic row (float64 draws, the float32 row, its copy in the
#: transfer set and the standardised copy the student trains on) and per teacher logit
#: (float64 and its float32 copy), used by that estimate.
AUGMENT_BYTES_PER_CELL = 32
AUGMENT_BYTES_PER_LOGIT = 12

#: temperature="auto": candidate fits use this share of the "auto" step budget (the final
#: refit at the chosen T gets the whole budget).
TEMPERATURE_SEARCH_STEP_SCALE = 1 / 3
#: temperature="auto": with fewer validation rows than this the candidates cannot be told
#: apart (one row is more than 0.2 points), so T = 1 is kept without a search.
TEMPERATURE_SEARCH_MIN_VALID_ROWS = 500
#: temperature="auto": candidates whose validation fidelity is within this many paired
#: standard errors of the best are treated as tied (then the lowest KL wins). 0: the plain
#: argmax, exact ties broken by KL. Measured on the like-with-like benchmark, 2 cost the
#: logistic student up to 0.4 points on COMPAS and Adult (it pulls back towards T = 1,
#: while sharper T decides better): small validation sets are handled by
#: TEMPERATURE_SEARCH_MIN_VALID_ROWS instead.
TEMPERATURE_SEARCH_Z = 0.0

# ------------------------------------------------------------------ explainer memory
#: Bytes the explainer may spend at once on one batch of model inputs (rows x coalitions
#: x background x features, float64) and, separately, on one block of per-row coalition
#: values: batches are sized by this budget, not by a fixed row count, so 10,000 columns
#: still fit in a few hundred MB. An explanation whose single row exceeds it is refused
#: up front with the estimate and what to reduce.
EXPLAIN_MEMORY_BUDGET = 256 * 1024**2

# ------------------------------------------------------------------ many classes
#: Beyond this many classes the agreement-matrix figure draws the most frequent
#: confusions (a bar chart) instead of k x k matrices, whose drawing grows with k².
MAX_MATRIX_CLASSES = 30
#: Confusions (teacher class -> student class) shown per student in that summary.
TOP_CONFUSIONS = 15
#: temperature="auto": a student whose fit depends on the step budget (the mini-batch
#: loop) is fitted once at T = 1 with TEMPERATURE_SEARCH_STEP_SCALE of the "auto" step
#: budget, and every candidate continues from a copy of that fit for this share of it
#: (about one full fit in all, instead of the two that six fits at 1/3 from scratch cost).
TEMPERATURE_SEARCH_WARM_SCALE = 1 / 9
#: AdditiveClassifier(n_knots="auto"): knots per shape = clip(round(sqrt(n rows)), MIN, MAX).
#: A tree teacher's steps need knots near them (adult, HistGradientBoosting teacher, one
#: seed: 32 knots 0.966, 64 0.982, 128 0.983 fidelity; EBM 0.986).
ADDITIVE_MIN_KNOTS = 32
ADDITIVE_MAX_KNOTS = 128
#: AdditiveClassifier(max_interactions="auto"): pair terms = min(all pairs, max(MIN,
#: min(PAIRS_PER_FEATURE * d, n // ROWS_PER_PAIR))): as many as EBM's default
#: (interactions="3x": 3 per feature) where there are about ROWS_PER_PAIR rows per pair
#: term, fewer on small data. Measured at T = 0.5 with the block-whitened solver
#: (one seed): 21,000 x 30 rows, MLPTeacher, 47 pairs 0.937, 90 pairs 0.960 (EBM 0.963);
#: adult, HistGradientBoosting, 29 pairs 0.983, 60 pairs 0.983; german credit (700 rows),
#: 90 pairs overfit: 0.813 against 0.847 with 20; COMPAS (18 columns, 3 seeds, auto T):
#: 54 pairs 0.983 (MLPTeacher) and 0.935 (HistGradientBoosting), 27 pairs (one-hot
#: groups counted once) 0.979 and 0.929. (The former cap by design entries,
#: 1e6 / (n * outputs) pairs, gave 47 pairs there and 20 to 70,000 rows x 3 classes.)
ADDITIVE_MIN_PAIRS = 20
#: AdditiveClassifier(interaction_knots="auto"): a pair axis whose feature has at most
#: PAIR_EXACT_VALUES distinct values (each a main knot) keeps every one (a discrete column's
#: steps exactly, as EBM's bins do); one with more gets PAIR_QUANTILE_KNOTS knots spread
#: evenly in rank. Measured against 16 knots on every axis (3 seeds, auto T): COMPAS
#: (ages and prior counts), HistGradientBoosting 0.935 -> 0.949 (EBM, 1 bag, 0.953),
#: MLPTeacher 0.986 -> 0.988; digits (17 levels a pixel), HistGradientBoosting 0.956 ->
#: 0.964 (EBM 0.972); continuous columns unchanged. A pair grid wider than 256 cells is
#: whitened column by column (``_additive_solver.DENSE_BLOCK_MAX``).
ADDITIVE_PAIR_EXACT_VALUES = 64
ADDITIVE_PAIR_QUANTILE_KNOTS = 16
#: ... and on fewer rows fewer spread knots, about PAIR_CELL_ROWS rows per grid cell:
#: clip(round(sqrt(n / PAIR_CELL_ROWS)), PAIR_MIN_KNOTS, PAIR_QUANTILE_KNOTS), 16 from
#: 1,024 rows on. A 16 x 16 grid on wine's 124 rows has two cells per row, held only by
#: the smoothness prior. Measured in benchmarks/surrogates.py (3 seeds, both teachers),
#: against 16 knots: wine (6 knots) 0.25x -> 0.066x of EBM's time, breast cancer (10)
#: 0.079x -> 0.054x; fidelity +0.006 / -0.006 (breast cancer, MLP / boosted teacher),
#: -0.012 / +0.012 (wine, where one test row is 0.019): no change beyond noise.
ADDITIVE_PAIR_CELL_ROWS = 4
ADDITIVE_PAIR_MIN_KNOTS = 4
ADDITIVE_ROWS_PER_PAIR = 64
ADDITIVE_PAIRS_PER_FEATURE = 3
#: AdditiveClassifier(n_jobs=None): the L-BFGS solve's sparse products (design A times
#: the weights, A^T times the loss gradient) split into row blocks on every core once
#: the design has this many entries; below it one thread. Each block is one scipy call
#: that releases the GIL (no spin-waiting thread pool, unlike torch's intra-op threads),
#: so a busy second core costs about nothing. Measured in ``benchmarks/threads.py``.
ADDITIVE_PARALLEL_MIN_ENTRIES = 2_000_000
#: Most passes of TAO (tree alternating optimisation) over the CART start; passes stop
#: earlier when the training disagreement stops falling.
SOFT_TREE_TAO_MAX_PASSES = 5
#: Most rows one TAO node problem is fitted on (a uniform sample of its care rows; the
#: accept test counts all of them).
SOFT_TREE_TAO_MAX_ROWS = 2000
#: TAO stops when a pass lowers the training disagreement by less than this share of
#: the rows (0.1 point).
SOFT_TREE_TAO_TOL = 1e-3
