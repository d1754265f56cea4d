"""Tables, verdicts and the markdown report of :mod:`benchmarks.surrogates`, computed from
its cells CSV alone (so ``--from-csv`` rewrites exactly what the run wrote).

Targets (issue 11, "Must show"), each on the mean over seeds of the paired difference
``student - surrogate`` (same seeds, same rows, same teacher):

- logistic regression: ``>= LogisticRegression - 0.005``;
- soft tree: ``> CART with the same leaves`` (and whether the 95% interval is above 0);
- shallow MLP and additive model: ``>= same-class surrogate - 0.005`` (the issue's aim,
  "at least as faithful as the same-class surrogate", with the same tolerance);
- best student (highest mean fidelity) ``>= EBM (1 bag) - 0.005``;
- raw columns: ``|fidelity(raw) - fidelity(standardised)| <= 0.005``.
"""

from __future__ import annotations

import argparse
import inspect
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import interpretable_kd as ikd

from . import _common as common
from ._surrogates_data import EBM_DEFAULT, EBM_MAX_ROWS, EBM_ONE_BAG, LARGE, NAME, read_cells
from .surrogates import SAME_CLASS

__all__ = ["finish", "headline", "load_summary", "summarise"]

TOLERANCE = 0.005
#: Registry name -> (comparison, threshold) on the mean paired difference.
TARGETS: dict[str, tuple[str, float]] = {
    "logistic": (">=", -TOLERANCE),
    "tree": (">", 0.0),
    "mlp": (">=", -TOLERANCE),
    "additive": (">=", -TOLERANCE),
}


# --------------------------------------------------------------------------- numbers
def _seed_values(cells: pd.DataFrame, model: str, columns: str = "standardised") -> pd.Series:
    rows = cells[(cells["model"] == model) & (cells["columns"] == columns)]
    return rows.set_index("seed")["fidelity"]


def paired(left: pd.Series, right: pd.Series) -> tuple[float, float, float, int]:
    """Mean and 95% t interval of ``left - right`` over the seeds both have, and how many."""
    joined = pd.concat([left, right], axis=1, join="inner").dropna()
    if joined.empty:
        return math.nan, math.nan, math.nan, 0
    mean, low, high = common.mean_ci(joined.iloc[:, 0] - joined.iloc[:, 1])
    return mean, low, high, len(joined)


def verdict(difference: float, rule: tuple[str, float] | None) -> str:
    """'pass', 'FAIL', 'not run' (no surrogate numbers) or '–' (no target)."""
    if rule is None:
        return "–"
    if math.isnan(difference):
        return "not run"
    op, threshold = rule
    ok = difference > threshold if op == ">" else difference >= threshold
    return "pass" if ok else "FAIL"


def _median_fit(cells: pd.DataFrame, model: str, with_labels: bool) -> float:
    rows = cells[(cells["model"] == model) & (cells["columns"] == "standardised")]
    if rows.empty:
        return math.nan
    seconds = rows["fit_seconds"] + (rows["label_seconds"] if with_labels else 0.0)
    return float(seconds.median())


def _temperatures(rows: pd.DataFrame) -> str:
    counts = Counter(f"{t:g}" for t in rows["temperature"].dropna())
    return ", ".join(f"{t} x{n}" if n > 1 else t for t, n in sorted(counts.items(), key=_tkey))


def _tkey(item: tuple[str, int]) -> float:
    return float(item[0])


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per data set x teacher x student: fidelity, same-class surrogate, paired
    difference, verdict, fit-time ratios, EBM (1 bag), raw-columns check, temperatures."""
    rows = []
    for (dataset, teacher), group in cells.groupby(["dataset", "teacher"], sort=False):
        students = group[(group["family"] == "student") & (group["columns"] == "standardised")]
        ebm = _seed_values(group, EBM_ONE_BAG)
        ebm_fit = _median_fit(group, EBM_ONE_BAG, with_labels=True)
        for name, srows in students.groupby("model", sort=False):
            mine = srows.set_index("seed")["fidelity"]
            surrogate = SAME_CLASS.get(str(name), "")
            theirs = _seed_values(group, surrogate) if surrogate else pd.Series(dtype=float)
            diff = paired(mine, theirs)
            ebm_diff = paired(mine, ebm)
            raw = _seed_values(group, str(name), "raw")
            raw_diff = paired(raw, mine)
            fit = float(srows["fit_seconds"].median())
            sur_fit = _median_fit(group, surrogate, with_labels=True) if surrogate else math.nan
            f_mean, f_low, f_high = fidelity_ci(mine)
            s_mean, s_low, s_high = fidelity_ci(theirs)
            r_mean, r_low, r_high = fidelity_ci(raw)
            raw_rows = group[(group["model"] == name) & (group["columns"] == "raw")]
            rows.append(
                {
                    "dataset": dataset,
                    "teacher": teacher,
                    "student": str(srows["student"].iloc[0]),
                    "registry_name": name,
                    "n_seeds": len(mine),
                    "n_test": int(group["n_test"].iloc[0]),
                    "teacher_accuracy": float(
                        group.groupby("seed")["teacher_accuracy"].first().mean()
                    ),
                    "fidelity": f_mean,
                    "fidelity_low": f_low,
                    "fidelity_high": f_high,
                    "surrogate": surrogate or "–",
                    "surrogate_seeds": len(theirs),
                    "surrogate_fidelity": s_mean,
                    "surrogate_fidelity_low": s_low,
                    "surrogate_fidelity_high": s_high,
                    "difference": diff[0],
                    "difference_low": diff[1],
                    "difference_high": diff[2],
                    "paired_seeds": diff[3],
                    "target": _target_text(str(name), surrogate),
                    "result": verdict(diff[0], TARGETS.get(str(name)) if surrogate else None),
                    "interval_above_0": bool(diff[1] > 0) if not math.isnan(diff[1]) else False,
                    "student_fit_s": fit,
                    "surrogate_fit_s": sur_fit,
                    "fit_ratio": fit / sur_fit if sur_fit else math.nan,
                    "ebm1_fidelity": common.mean_ci(ebm)[0],
                    "ebm1_difference": ebm_diff[0],
                    "ebm1_difference_low": ebm_diff[1],
                    "ebm1_difference_high": ebm_diff[2],
                    "ebm1_fit_s": ebm_fit,
                    "ebm1_fit_ratio": fit / ebm_fit if ebm_fit else math.nan,
                    "temperatures": _temperatures(srows),
                    "epochs_median": float(srows["epochs"].median()),
                    "raw_fidelity": r_mean,
                    "raw_fidelity_low": r_low,
                    "raw_fidelity_high": r_high,
                    "raw_difference": raw_diff[0],
                    "raw_difference_low": raw_diff[1],
                    "raw_difference_high": raw_diff[2],
                    "raw_result": (
                        "not run"
                        if math.isnan(raw_diff[0])
                        else ("pass" if abs(raw_diff[0]) <= TOLERANCE else "FAIL")
                    ),
                    "raw_teacher_agreement": float(raw_rows["teacher_agreement"].min())
                    if not raw_rows.empty
                    else math.nan,
                }
            )
    return pd.DataFrame(rows)


def fidelity_ci(values: pd.Series) -> tuple[float, float, float]:
    """Mean and 95% t interval of a fidelity over seeds, the interval clipped to [0, 1]
    (with few seeds the t interval can leave the range a share can take)."""
    mean, low, high = common.mean_ci(values)
    if math.isnan(low):  # one seed: no interval
        return mean, low, high
    return mean, max(0.0, low), min(1.0, high)


def _target_text(name: str, surrogate: str) -> str:
    rule = TARGETS.get(name)
    if rule is None or not surrogate:
        return "–"
    op, threshold = rule
    return f"{'≥' if op == '>=' else op} {surrogate}" + (f" − {-threshold:g}" if threshold else "")


def best_vs_ebm(summary: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per data set x teacher: the best student (highest mean fidelity) vs EBM (1 bag)."""
    rows = []
    for (dataset, teacher), group in summary.groupby(["dataset", "teacher"], sort=False):
        best = group.loc[group["fidelity"].idxmax()]
        sub = cells[(cells["dataset"] == dataset) & (cells["teacher"] == teacher)]
        diff = paired(_seed_values(sub, str(best["registry_name"])), _seed_values(sub, EBM_ONE_BAG))
        rows.append(
            {
                "data set": dataset,
                "teacher": teacher,
                "best student": best["student"],
                "its fidelity": _ci(best["fidelity"], best["fidelity_low"], best["fidelity_high"]),
                "EBM (1 bag)": best["ebm1_fidelity"],
                "difference": _ci(*diff[:3], signed=True),
                "target ≥ EBM − 0.005": verdict(diff[0], (">=", -TOLERANCE)),
                "fit s, student / EBM": f"{best['student_fit_s']:.2f} / {best['ebm1_fit_s']:.2f}",
                "ratio": best["ebm1_fit_ratio"],
            }
        )
    return pd.DataFrame(rows)


def teacher_on_raw(cells: pd.DataFrame) -> pd.DataFrame:
    """MLPTeacher trained on raw columns vs on standardised ones (accuracy, agreement)."""
    rows = []
    raw = cells[cells["model"] == "MLPTeacher (raw columns)"]
    for dataset, group in raw.groupby("dataset", sort=False):
        std = cells[(cells["dataset"] == dataset) & (cells["teacher"] == "MLPTeacher")]
        rows.append(
            {
                "data set": dataset,
                "seeds": len(group),
                "accuracy, standardised": std.groupby("seed")["teacher_accuracy"].first().mean(),
                "accuracy, raw columns": group["accuracy"].mean(),
                "agreement of the two": group["fidelity"].mean(),
                "fit s, raw": group["fit_seconds"].median(),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- text
def _ci(mean: float, low: float, high: float, signed: bool = False, digits: int = 3) -> str:
    fmt = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    if math.isnan(mean):
        return "–"
    if math.isnan(low):
        return fmt.format(mean)
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def main_table(summary: pd.DataFrame) -> list[str]:
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "data set": r["dataset"],
                "teacher": r["teacher"],
                "student": r["student"],
                "fidelity": _ci(r["fidelity"], r["fidelity_low"], r["fidelity_high"]),
                "surrogate": r["surrogate"],
                "surrogate fidelity": _ci(
                    r["surrogate_fidelity"],
                    r["surrogate_fidelity_low"],
                    r["surrogate_fidelity_high"],
                ),
                "difference": _ci(
                    r["difference"], r["difference_low"], r["difference_high"], signed=True
                ),
                "target": r["target"],
                "result": r["result"]
                + (
                    " (interval > 0)"
                    if r["registry_name"] == "tree" and r["interval_above_0"]
                    else ""
                ),
                "fit s (student / surrogate)": (
                    f"{r['student_fit_s']:.2f} / "
                    + ("–" if math.isnan(r["surrogate_fit_s"]) else f"{r['surrogate_fit_s']:.2f}")
                ),
                "time ratio": r["fit_ratio"],
                "vs EBM (1 bag)": _ci(
                    r["ebm1_difference"], r["ebm1_difference_low"], r["ebm1_difference_high"], True
                ),
                "time ratio to EBM": r["ebm1_fit_ratio"],
                "T chosen": r["temperatures"] or "–",
            }
        )
    return common.markdown_table(
        pd.DataFrame(rows), {"time ratio": "{:.2g}x", "time ratio to EBM": "{:.2g}x"}
    )


def raw_table(summary: pd.DataFrame) -> list[str]:
    ran = summary[summary["raw_result"] != "not run"]
    if ran.empty:
        return ["Not run (`--raw-teachers ''`)."]
    frame = pd.DataFrame(
        {
            "data set": ran["dataset"],
            "teacher": ran["teacher"],
            "student": ran["student"],
            "standardised": [
                _ci(a, b, c)
                for a, b, c in zip(
                    ran["fidelity"], ran["fidelity_low"], ran["fidelity_high"], strict=True
                )
            ],
            "raw columns": [
                _ci(a, b, c)
                for a, b, c in zip(
                    ran["raw_fidelity"],
                    ran["raw_fidelity_low"],
                    ran["raw_fidelity_high"],
                    strict=True,
                )
            ],
            "raw − standardised": [
                _ci(a, b, c, signed=True)
                for a, b, c in zip(
                    ran["raw_difference"],
                    ran["raw_difference_low"],
                    ran["raw_difference_high"],
                    strict=True,
                )
            ],
            "within 0.005": ran["raw_result"],
            "teacher agreement (raw input)": ran["raw_teacher_agreement"],
        }
    )
    return common.markdown_table(frame, {"teacher agreement (raw input)": "{:.4f}"})


def failures(summary: pd.DataFrame, best: pd.DataFrame) -> list[str]:
    """One bullet per failed target, with the numbers; nothing is explained away."""
    lines = []
    for _, r in summary[summary["result"] == "FAIL"].iterrows():
        noise = (
            " (the interval includes the threshold: within seed-to-seed noise)"
            if not math.isnan(r["difference_low"])
            and r["difference_low"] <= TARGETS[r["registry_name"]][1] <= r["difference_high"]
            else ""
        )
        lines.append(
            f"- {r['dataset']} / {r['teacher']} / {r['student']}: {r['fidelity']:.4f} vs "
            f"{r['surrogate']} {r['surrogate_fidelity']:.4f}, difference "
            f"{_ci(r['difference'], r['difference_low'], r['difference_high'], True)} over "
            f"{r['paired_seeds']} seed(s){noise}; T chosen {r['temperatures'] or '–'}, "
            f"median epochs {r['epochs_median']:g}."
        )
    for _, r in best[best["target ≥ EBM − 0.005"] == "FAIL"].iterrows():
        lines.append(
            f"- {r['data set']} / {r['teacher']}: best student ({r['best student']}, "
            f"{r['its fidelity']}) below EBM (1 bag) {r['EBM (1 bag)']:.4f} by more than "
            f"0.005 (difference {r['difference']})."
        )
    for _, r in summary[summary["raw_result"] == "FAIL"].iterrows():
        lines.append(
            f"- raw columns, {r['dataset']} / {r['teacher']} / {r['student']}: "
            f"{r['raw_fidelity']:.4f} vs {r['fidelity']:.4f} standardised (difference "
            f"{_ci(r['raw_difference'], r['raw_difference_low'], r['raw_difference_high'], True)}"
            f"; one of the {r['n_test']} test rows is {1 / r['n_test']:.4f})."
        )
    return lines or ["- None: every target that was run holds."]


def counts(summary: pd.DataFrame, best: pd.DataFrame) -> list[str]:
    """One line per target: how many data set x teacher cells pass."""
    lines = []
    for name in [*TARGETS, *sorted(set(summary["registry_name"]) - set(TARGETS))]:
        sub = summary[(summary["registry_name"] == name) & summary["result"].isin(["pass", "FAIL"])]
        if sub.empty:
            continue
        label = sub["student"].iloc[0]
        extra = ""
        if name == "tree":
            extra = f", with a paired 95% interval above 0 on {int(sub['interval_above_0'].sum())}"
        lines.append(
            f"- **{label} {sub['target'].iloc[0]}: {int((sub['result'] == 'pass').sum())} of "
            f"{len(sub)}** data set x teacher cells{extra}."
        )
    ran = best[best["target ≥ EBM − 0.005"].isin(["pass", "FAIL"])]
    if not ran.empty:
        lines.append(
            f"- **Best student ≥ EBM (1 bag) − 0.005: "
            f"{int((ran['target ≥ EBM − 0.005'] == 'pass').sum())} of {len(ran)}**."
        )
    raw = summary[summary["raw_result"].isin(["pass", "FAIL"])]
    if not raw.empty:
        lines.append(
            f"- **Raw columns within 0.005 of standardised: "
            f"{int((raw['raw_result'] == 'pass').sum())} of {len(raw)}** data set x teacher x "
            "student cells."
        )
    logistic = summary[summary["registry_name"] == "logistic"]
    below_one = logistic[logistic["temperatures"].str.contains(r"(?:^|, )0\.", regex=True)]
    lines.append(
        f"- `temperature='auto'` chose T < 1 for the logistic student (in at least one seed) on "
        f"{below_one['dataset'].nunique()} data set(s)"
        + (f": {', '.join(below_one['dataset'].unique())}." if not below_one.empty else ".")
    )
    return lines


def headline(summary: pd.DataFrame, best: pd.DataFrame, stem: str) -> list[str]:
    """The runner's summary section: the verdict counts and a link to the report."""
    return [
        f"Each student distilled at library defaults vs its same-class surrogate on the "
        f"teacher's labels, {summary['dataset'].nunique()} data sets x "
        f"{summary['teacher'].nunique()} teachers; every number with its interval in "
        f"[{stem}.md]({stem}.md), one row per data set x teacher x student in "
        f"[{stem}.csv]({stem}.csv).",
        "",
        *counts(summary, best),
        "",
    ]


def _distiller_defaults() -> dict[str, object]:
    parameters = inspect.signature(ikd.DistilledClassifier).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def write_report(
    cells: pd.DataFrame, summary: pd.DataFrame, best: pd.DataFrame, path: Path, seconds: float
) -> None:
    seeds = cells.groupby("dataset")["seed"].nunique()
    ebm_default = cells[cells["model"] == EBM_DEFAULT].groupby("dataset")["seed"].nunique()
    setup = cells.groupby("dataset").first()
    defaults = ", ".join(
        f"`{k}={v!r}`"
        for k, v in _distiller_defaults().items()
        if k in ("temperature", "hard_label_weight", "augment")
    )
    lines = [
        "# Like with like: distilled students vs same-class surrogates",
        "",
        "Each registry student distilled at the library's defaults, "
        "`ikd.DistilledClassifier(teacher, kind.make(random_state=seed), "
        "random_state=seed).fit(X_train)` (no tuning; "
        f"{defaults}), against the model of the same class a user fits in one line on "
        "`teacher.predict(X_train)`. Fidelity: share of the held-out rows where the model "
        "predicts the teacher's class. Mean [95% t interval] over seeds; differences are "
        "paired (same seed, split and teacher).",
        "",
        f"Machine: {common.machine_line()} Versions: "
        + ", ".join(f"{k} {v}" for k, v in common.package_versions().items())
        + (f". Run time: {seconds / 60:.1f} minutes." if not math.isnan(seconds) else "."),
        "",
        "## Set-up",
        "",
        "| data set | train rows | test rows | features | classes | seeds | EBM (defaults) seeds |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {d} | {int(setup.loc[d, 'n_train']):,} | {int(setup.loc[d, 'n_test']):,} | "
            f"{int(setup.loc[d, 'n_features'])} | {int(setup.loc[d, 'n_classes'])} | "
            f"{seeds[d]} | {int(ebm_default.get(d, 0))} |"
            for d in seeds.index
        ],
        "",
        "- Teachers: `ikd.MLPTeacher(random_state=seed)` and scikit-learn's "
        "`HistGradientBoostingClassifier(random_state=seed)` wrapped with `ikd.as_teacher`, "
        "both at defaults, on the standardised training rows.",
        "- Same-class surrogates on the teacher's labels of the same training rows: "
        + "; ".join(f"{k} → {v}" for k, v in SAME_CLASS.items())
        + " (`LogisticRegression(max_iter=3000)`, `DecisionTreeClassifier(max_leaf_nodes=16)`, "
        "`MLPClassifier(hidden_layer_sizes=(16,))`, `ExplainableBoostingClassifier()` at its "
        "defaults, 14 outer bags). `ExplainableBoostingClassifier(outer_bags=1)` for every "
        "student.",
        "- EBM (1 bag) fits on every training row, as each student does (like with like, "
        "time included). EBM at its defaults is not run on "
        f"{' and '.join(LARGE)} (hours on one core; it would get a {EBM_MAX_ROWS:,}-row "
        "sample) and elsewhere runs on the first seeds only (table above). Fewer seeds on "
        f"{' and '.join(LARGE)} (table above).",
        "- Threads: one worker process per core, torch, OpenMP and BLAS on one thread each, "
        "EBM with `n_jobs=1`, so every model gets one core. Fit seconds: the distilled "
        "student's `fit` (teacher calls and the temperature search included); a surrogate's "
        "`fit` plus the teacher's labelling of the training rows. Time ratio: student / "
        "surrogate (medians over seeds).",
        "- Raw columns: the same rows with numeric columns in their own units (one-hot "
        "columns unchanged), the same teacher function (it standardises what it is given; "
        "'teacher agreement' checks that it predicts the same classes on the raw test "
        "rows), each student distilled again.",
        "",
        "## 1. Each student vs its same-class surrogate",
        "",
        *main_table(summary),
        "",
        *counts(summary, best),
        "",
        "## 2. Best student vs EBM (1 bag)",
        "",
        *common.markdown_table(best, {"EBM (1 bag)": "{:.3f}", "ratio": "{:.2g}x"}),
        "",
        "## 3. Raw vs standardised columns",
        "",
        *raw_table(summary),
        "",
    ]
    teacher_raw = teacher_on_raw(cells)
    if not teacher_raw.empty:
        lines += [
            "MLPTeacher trained on the raw columns (does it learn on them?):",
            "",
            *common.markdown_table(
                teacher_raw,
                {
                    "accuracy, standardised": "{:.3f}",
                    "accuracy, raw columns": "{:.3f}",
                    "agreement of the two": "{:.3f}",
                    "fit s, raw": "{:.1f}",
                },
            ),
            "",
        ]
    lines += ["## 4. What failed", "", *failures(summary, best), ""]
    common.write_markdown(lines, path)


def finish(cells_path: Path, args: argparse.Namespace, log: Callable[[str], None]) -> int:
    """Summary CSV and markdown report from the cells CSV."""
    if not cells_path.exists():
        log(f"no cells yet: {common.relative(cells_path)} does not exist")
        return 1
    cells = read_cells(cells_path)
    summary = summarise(cells)
    best = best_vs_ebm(summary, cells)
    stem = common.stem(NAME, args.quick)
    common.write_csv(summary, args.out / f"{stem}.csv")
    md_path = args.out / f"{stem}.md"
    write_report(cells, summary, best, md_path, getattr(args, "seconds", math.nan))
    for line in counts(summary, best):
        log(line)
    log(f"wrote {common.relative(md_path)}, {stem}.csv and {stem}_cells.csv")
    return 0


def load_summary(out: Path, quick: bool) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The summary and best-vs-EBM tables of the last run, for the runner's README."""
    path = out / f"{common.stem(NAME, quick)}_cells.csv"
    if not path.exists():
        return None
    cells = read_cells(path)
    summary = summarise(cells)
    return summary, best_vs_ebm(summary, cells)
