"""Speed at the defaults users get (issue 11, "Must show"), as ratios measured in one run.

(a) Every registry student distilled at library defaults,
    ``ikd.DistilledClassifier(teacher, kind.make(random_state=0), random_state=0).fit(X)``,
    on 21,000 x 30 rows (``make_classification``, 30,000 rows, the first 70% to train)
    from an ``MLPTeacher()`` at defaults, against InterpretML's
    ``ExplainableBoostingClassifier(outer_bags=1)`` fitted on the teacher's labels of the
    same rows, in the same fresh process with the library's own thread choice (nothing
    here sets a thread count). Target: each student <= 1/10 of EBM's time. Each student
    is then fitted again at the T its search chose (``temperature=T``, no search), so the
    table shows what the search costs: the auto fit / that single fit (about <= 2).
(b) The README's Python quickstart (copied below as :func:`readme_quickstart`; it runs on
    COMPAS) against ``interpretable-kd demo --dataset compas``, each in a fresh process,
    interleaved, median of 3. Target: quickstart <= 1.5x the demo.

Both parts run in child processes whose environment has no ``OMP_NUM_THREADS`` /
``MKL_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` (``--keep-thread-env`` keeps them), as in a
user's shell, so that the library's own thread rule is what is measured.

    python -m benchmarks.defaults_speed            # 21,000 x 30 rows, 3 runs each
    python -m benchmarks.defaults_speed --quick    # 3,000 x 30 rows, 1 run each

Writes ``defaults_speed.md`` and ``defaults_speed.json`` (``defaults_speed_quick.*``)
into ``reports/benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NAME = "defaults_speed"
ROWS, QUICK_ROWS, FEATURES = 30_000, 4_286, 30  # 70% of the rows train: 21,000 / 3,000
FIT_TARGET = 0.1  # student time / EBM time
QUICKSTART_TARGET = 1.5  # quickstart time / demo time
SEARCH_TARGET = 2.0  # fit with temperature="auto" / the same fit at the chosen T
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
REPO_ROOT = Path(__file__).resolve().parents[1]


def readme_quickstart(out: str) -> None:
    """The README's "Quickstart: Python", copied as is; only the report folder is ``out``.

    Parameters
    ----------
    out : str
        Folder for ``report.save`` (the README writes to ``reports/compas``).
    """
    import interpretable_kd as ikd
    from interpretable_kd.datasets import load_dataset, split_dataset

    data = split_dataset(load_dataset("compas"), random_state=0)  # one-hot + scaling, names kept
    teacher = ikd.MLPTeacher(random_state=0).fit(data.X_train, data.y_train)
    # ... or any model you already have: ikd.as_teacher(my_torch_module / my_sklearn_model /
    #     my_function, output="proba") / ikd.as_teacher(scores, X=rows) when you only have scores

    tree = ikd.DistilledClassifier(
        teacher, ikd.SoftDecisionTreeClassifier(depth=4), random_state=0
    ).fit(data.X_train)  # no labels needed: the student imitates the teacher
    logistic = ikd.DistilledClassifier(teacher, ikd.SoftLogisticRegression(), random_state=0).fit(
        data.X_train
    )

    print(tree.temperature_search_)  # temperature="auto": T chosen by fidelity, and why
    print(tree.student_.to_rules(data.X_test))  # the tree as IF ... THEN rules, in the data's units
    report = ikd.DistillationReport.from_models(
        teacher,
        {"soft tree": tree, "logistic": logistic},
        data.X_test,
        data.y_test,
        X_fit=data.X_train,  # lets the report refit each student: intervals include training noise
        preset="standard",  # the same budget as the command line's default
        random_state=0,
    )
    print(report.metrics)  # fidelity [CI], kappa, majority baseline, worst class, KL, agreement
    print(report.verdict("soft tree"))  # faithful or not, judged on the worst class and kappa
    report.save(out)  # index.html + figures/*.png + metrics.json + disagreements.csv


def _code_lines(text: str) -> list[str]:
    """Statements only: no comments, blank lines, indentation or the report folder."""
    lines = []
    for line in text.splitlines():
        code = re.sub(r"\s+#.*$", "", line).strip()
        if code and not code.startswith("#"):
            lines.append(code.replace('report.save("reports/compas")', "report.save(out)"))
    return lines


def quickstart_matches_readme() -> bool | None:
    """Whether :func:`readme_quickstart` is still the README's quickstart (None: the README
    has no "Quickstart: Python" code block)."""
    import inspect

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"## Quickstart: Python\s+```python\n(.*?)```", readme, re.S)
    if found is None:
        return None
    body = inspect.getsource(readme_quickstart).split('"""', 2)[2]
    return _code_lines(found.group(1)) == _code_lines(body)


# --------------------------------------------------------------------------- (a)
def fit_times(n_rows: int) -> dict[str, Any]:
    """Part (a), run in a fresh child process: seconds of every student at defaults and
    of EBM (1 bag) on the same rows, with their fidelity on the held-out rows."""
    import warnings

    import numpy as np
    import torch
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    import interpretable_kd as ikd

    warnings.filterwarnings("ignore", category=UserWarning, module="interpret")
    X, y = make_classification(
        n_samples=n_rows, n_features=FEATURES, n_informative=15, n_redundant=5, random_state=0
    )
    X = X.astype(np.float32)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    result: dict[str, Any] = {"rows": X_train.shape, "torch_threads_at_start": None}
    result["torch_threads_at_start"] = torch.get_num_threads()
    start = time.perf_counter()
    teacher = ikd.MLPTeacher(random_state=0).fit(X_train, y_train)
    result["teacher_seconds"] = time.perf_counter() - start
    target_test = teacher.predict(X_test)
    models: dict[str, dict[str, float]] = {}
    for kind in ikd.REGISTRY.values():
        start = time.perf_counter()
        model = ikd.DistilledClassifier(teacher, kind.make(random_state=0), random_state=0).fit(
            X_train
        )
        seconds = time.perf_counter() - start
        search = model.temperature_search_
        chosen = model.temperature_
        single = math.nan
        if chosen is not None:  # the same fit at the chosen T, without the search
            start = time.perf_counter()
            ikd.DistilledClassifier(
                teacher, kind.make(random_state=0), temperature=chosen, random_state=0
            ).fit(X_train)
            single = time.perf_counter() - start
        models[kind.label] = {
            "seconds": seconds,
            "single_seconds": single,
            "search_seconds": math.nan if search is None else float(search.attrs["search_seconds"]),
            "fidelity": float(np.mean(model.predict(X_test) == target_test)),
            "temperature": float(math.nan if chosen is None else chosen),
        }
    try:
        from interpret.glassbox import ExplainableBoostingClassifier
    except ImportError:
        result["ebm"] = None
    else:
        start = time.perf_counter()
        labels = teacher.predict(X_train)
        ebm = ExplainableBoostingClassifier(outer_bags=1, random_state=0).fit(X_train, labels)
        result["ebm"] = {
            "seconds": time.perf_counter() - start,
            "fidelity": float(np.mean(ebm.predict(X_test) == target_test)),
        }
    result["torch_threads_at_end"] = torch.get_num_threads()
    result["students"] = models
    return result


# --------------------------------------------------------------------------- (b)
def _timed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=env
    )
    return {
        "seconds": time.perf_counter() - start,
        "returncode": done.returncode,
        "stderr_tail": done.stderr.strip()[-800:] if done.returncode else "",
    }


def _demo_command(out: Path) -> list[str]:
    script = Path(sys.executable).with_name("interpretable-kd")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "interpretable_kd"]
    return [*head, "demo", "--dataset", "compas", "--out", str(out)]


def quickstart_vs_demo(repeats: int, env: dict[str, str]) -> dict[str, Any]:
    """Part (b): quickstart and demo, alternately, each in a fresh process."""
    runs: dict[str, list[dict[str, Any]]] = {"quickstart": [], "demo": []}
    with tempfile.TemporaryDirectory(prefix="ikd-speed-") as tmp:
        for i in range(repeats):
            out = Path(tmp) / f"quickstart{i}"
            code = (
                "import sys; from benchmarks.defaults_speed import readme_quickstart; "
                "readme_quickstart(sys.argv[1])"
            )
            runs["quickstart"].append(_timed([sys.executable, "-c", code, str(out)], env))
            runs["demo"].append(_timed(_demo_command(Path(tmp) / f"demo{i}"), env))
    medians = {
        k: statistics.median(r["seconds"] for r in v if r["returncode"] == 0)
        if any(r["returncode"] == 0 for r in v)
        else math.nan
        for k, v in runs.items()
    }
    return {"runs": runs, "medians": medians, "ratio": medians["quickstart"] / medians["demo"]}


# --------------------------------------------------------------------------- report
def write_report(result: dict[str, Any], path: Path) -> None:
    from . import _common as common

    fit = result["fit"]
    ebm = fit.get("ebm")
    lines = [
        "# Speed at library defaults",
        "",
        f"Machine: {common.machine_line()}",
        f"Thread variables in the children's environment: {result['thread_env'] or 'none'}.",
        "",
        f"## (a) Every student at defaults vs EBM (1 bag), {fit['rows'][0]:,} x "
        f"{fit['rows'][1]} rows",
        "",
        "`ikd.DistilledClassifier(teacher, kind.make(random_state=0), random_state=0)"
        ".fit(X_train)` from `MLPTeacher(random_state=0)` (fitted in "
        f"{fit['teacher_seconds']:.1f} s, not counted); EBM: "
        "`ExplainableBoostingClassifier(outer_bags=1, random_state=0)` on the teacher's labels "
        "of the same rows (labelling included). One fresh process, torch threads "
        f"{fit['torch_threads_at_start']} at the start, {fit['torch_threads_at_end']} at the "
        f"end. Target: student / EBM <= {FIT_TARGET:g}. `single fit s`: the same "
        "`DistilledClassifier` with `temperature=` the chosen T (no search), fitted right "
        "after in the same process; `search s`: the search's wall time (the shared "
        "start, the candidates' fits, on several threads where the student allows, and "
        'their validation); `fit / single`: what `temperature="auto"` costs in single fits (target '
        f"about <= {SEARCH_TARGET:g}).",
        "",
        "| model | fit s | single fit s | search s | fit / single | fidelity (held-out) "
        "| T chosen | student / EBM | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    ebm_s = ebm["seconds"] if ebm else math.nan
    for label, m in fit["students"].items():
        ratio = m["seconds"] / ebm_s
        ok = "–" if math.isnan(ratio) else ("pass" if ratio <= FIT_TARGET else "**FAIL**")
        single = m.get("single_seconds", math.nan)
        search = m.get("search_seconds", math.nan)
        lines.append(
            f"| {label} | {m['seconds']:.2f} | {single:.2f} | {search:.2f} | "
            f"{m['seconds'] / single:.2f} | {m['fidelity']:.4f} | {m['temperature']:g} | "
            f"{ratio:.3f} | {ok} |"
        )
    if ebm:
        lines.append(
            f"| EBM (1 bag) | {ebm_s:.2f} | – | – | – | {ebm['fidelity']:.4f} | – | 1 | – |"
        )
    else:
        lines.append("| EBM (1 bag) | not run: `interpret` is not installed | | | | | | | |")
    qs = result["quickstart"]
    match = result["quickstart_matches_readme"]
    lines += [
        "",
        "## (b) README Python quickstart vs `interpretable-kd demo --dataset compas`",
        "",
        f"Each in a fresh process (interpreter start and imports included), alternately, "
        f"{len(qs['runs']['demo'])} run(s) each; medians. Target: quickstart / demo <= "
        f"{QUICKSTART_TARGET:g}. The benchmark's copy of the quickstart "
        + (
            "is the README's."
            if match
            else "**differs from the README's: update `readme_quickstart`**."
            if match is False
            else "could not be checked (no quickstart block in the README)."
        ),
        "",
        "| run | seconds (each) | median |",
        "|---|---|---:|",
    ]
    for key in ("quickstart", "demo"):
        each = ", ".join(
            f"{r['seconds']:.1f}" + ("" if r["returncode"] == 0 else f" (exit {r['returncode']})")
            for r in qs["runs"][key]
        )
        lines.append(f"| {key} | {each} | {qs['medians'][key]:.1f} |")
    ok = "pass" if qs["ratio"] <= QUICKSTART_TARGET else "**FAIL**"
    lines += ["", f"**Ratio quickstart / demo: {qs['ratio']:.2f} ({ok}).**", ""]
    for key in ("quickstart", "demo"):
        for r in qs["runs"][key]:
            if r["returncode"]:
                lines += [f"{key} failed:", "", "```", r["stderr_tail"], "```", ""]
    common.write_markdown(lines, path)


def headline(result: dict[str, Any]) -> list[dict[str, str]]:
    """Rows for the runner's speed table."""
    fit, rows = result["fit"], []
    ebm = fit.get("ebm")
    if ebm:
        worst = max(fit["students"].items(), key=lambda kv: kv[1]["seconds"])
        rows.append(
            {
                "what": f"slowest student at defaults ({worst[0]}), {fit['rows'][0]:,} x "
                f"{fit['rows'][1]} rows",
                "library": f"{worst[1]['seconds']:.2f} s",
                "reference": f"{ebm['seconds']:.2f} s (EBM, 1 bag)",
                "ratio": f"{worst[1]['seconds'] / ebm['seconds']:.3f} (target <= {FIT_TARGET:g})",
            }
        )
    qs = result["quickstart"]
    rows.append(
        {
            "what": "README Python quickstart vs `interpretable-kd demo --dataset compas`",
            "library": f"{qs['medians']['quickstart']:.1f} s (median)",
            "reference": f"{qs['medians']['demo']:.1f} s (median)",
            "ratio": f"{qs['ratio']:.2f} (target <= {QUICKSTART_TARGET:g})",
        }
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 rows, 1 run each")
    parser.add_argument("--repeats", type=int, default=None, help="runs of (b) (default 3)")
    parser.add_argument("--keep-thread-env", action="store_true", help="keep OMP_NUM_THREADS")
    parser.add_argument("--fit-only", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fit_only is not None:  # the child process of part (a)
        print(json.dumps(fit_times(args.fit_only)))
        return 0
    from . import _common as common

    env = dict(os.environ)
    if not args.keep_thread_env:
        for variable in THREAD_VARIABLES:
            env.pop(variable, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    rows = QUICK_ROWS if args.quick else ROWS
    print(f"[{NAME}] (a) students at defaults vs EBM on {rows:,} rows ...", flush=True)
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.defaults_speed", "--fit-only", str(rows)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if child.returncode:
        print(child.stderr[-3000:], file=sys.stderr)
        return 1
    result: dict[str, Any] = {"fit": json.loads(child.stdout.strip().splitlines()[-1])}
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"[{NAME}] (b) quickstart vs demo, {repeats} run(s) each ...", flush=True)
    result["quickstart"] = quickstart_vs_demo(repeats, env)
    result["quickstart_matches_readme"] = quickstart_matches_readme()
    result["thread_env"] = ", ".join(f"{v}={env[v]}" for v in THREAD_VARIABLES if v in env)
    stem = common.stem(NAME, args.quick)
    common.write_json(result, common.OUT_DIR / f"{stem}.json")
    write_report(result, common.OUT_DIR / f"{stem}.md")
    for row in headline(result):
        print(f"[{NAME}] {row['what']}: {row['library']} vs {row['reference']}: {row['ratio']}")
    print(f"[{NAME}] wrote {common.relative(common.OUT_DIR / f'{stem}.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
