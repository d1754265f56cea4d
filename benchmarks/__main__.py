"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only NAME,...]``.

Runs each benchmark's ``main(argv)`` in this process, one after the other (timing
benchmarks first, while nothing else of ours runs), forwarding ``--quick``; a benchmark
that fails is reported and the others still run. Then writes the summary,
``reports/benchmarks/README.md`` (``README_quick.md`` after ``--quick``), from the result
files of every benchmark, including ones from earlier runs when ``--only`` picks a few,
and prints where everything went.

    python -m benchmarks --quick                      # all, small settings, < 5 minutes
    python -m benchmarks                              # all, full settings
    python -m benchmarks --only fidelity,scale        # some (names below)
    python -m benchmarks --summary-only               # rewrite the summary only
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import _common as common


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    what: str
    argv: Callable[[bool, Path], list[str]]


def _forward_quick(quick: bool, out: Path) -> list[str]:
    return ["--quick"] if quick else []


def _quick_if_supported(module: str) -> Callable[[bool, Path], list[str]]:
    """Forward ``--quick`` to a benchmark whose source defines that flag (benchmarks that
    other engineers add may not have one)."""

    def argv(quick: bool, out: Path) -> list[str]:
        path = common.REPO_ROOT / "benchmarks" / f"{module}.py"
        has_quick = path.exists() and '"--quick"' in path.read_text(encoding="utf-8")
        return ["--quick"] if quick and has_quick else []

    return argv


def _explain_speed_argv(quick: bool, out: Path) -> list[str]:
    # explain_speed has no --quick and writes JSON only where --out says.
    json_path = Path(common.relative(out / f"{common.stem('explain_speed', quick)}.json"))
    quick_args = ["--rows", "50", "--kernel-rows", "5", "--repeats", "1"] if quick else []
    return [*quick_args, "--torch-threads", "1", "--out", str(json_path)]


# Timing benchmarks first: they run while no other benchmark of ours uses the cores.
BENCHMARKS = (
    Benchmark(
        "soft_tree_speed",
        "benchmarks.soft_tree_speed",
        "soft tree seconds per epoch vs a node-by-node reference tree",
        _forward_quick,
    ),
    Benchmark(
        "explain_speed",
        "benchmarks.explain_speed",
        "explain() vs shap.KernelExplainer on breast_cancer",
        _explain_speed_argv,
    ),
    Benchmark(
        "report_speed",
        "benchmarks.report_speed",
        "DistillationReport.from_models (200 rows, 3 students) vs shap.KernelExplainer",
        _forward_quick,
    ),
    Benchmark(
        "end_to_end",
        "benchmarks.end_to_end",
        "`interpretable-kd demo`, end to end, in a fresh process",
        _forward_quick,
    ),
    Benchmark(
        "defaults_speed",
        "benchmarks.defaults_speed",
        "every student at library defaults vs EBM (1 bag) on 21,000 x 30 rows; the README's "
        "Python quickstart vs `interpretable-kd demo --dataset compas`",
        _forward_quick,
    ),
    Benchmark(
        "logistic_speed",
        "benchmarks.logistic_speed",
        "logistic student fit time vs scikit-learn's LogisticRegression on the same rows",
        _quick_if_supported("logistic_speed"),
    ),
    Benchmark(
        "threads",
        "benchmarks.threads",
        "the library's thread choice vs one thread",
        _quick_if_supported("threads"),
    ),
    Benchmark(
        "scale",
        "benchmarks.scale",
        "distillation on 1,000,000 x 20 rows: seconds per epoch, peak memory",
        _forward_quick,
    ),
    Benchmark(
        "fidelity",
        "benchmarks.fidelity",
        "students (hard labels, distilled at T = 0.1 to 8, +/- augmentation) vs CART, "
        "logistic regression and EBM surrogates on 7 data sets",
        _forward_quick,
    ),
    Benchmark(
        "surrogates",
        "benchmarks.surrogates",
        "each student at library defaults vs its same-class surrogate on the teacher's "
        "labels (LogisticRegression, CART, MLPClassifier, EBM), 7 data sets x 2 teachers",
        _forward_quick,
    ),
    Benchmark(
        "temperature_search",
        "benchmarks.temperature_search",
        "temperature='auto': the search table and the chosen T",
        _quick_if_supported("temperature_search"),
    ),
    Benchmark(
        "soft_tree_vs_cart",
        "benchmarks.soft_tree_vs_cart",
        "soft tree at defaults vs CART with the same leaves",
        _quick_if_supported("soft_tree_vs_cart"),
    ),
    Benchmark(
        "additive",
        "benchmarks.additive",
        "additive student vs EBM (1 bag) on the teacher's labels",
        _quick_if_supported("additive"),
    ),
    Benchmark(
        "soft_tree_paper",
        "benchmarks.soft_tree_paper",
        "Frosst and Hinton (2017) re-run on digits: soft trees vs CART by depth",
        _forward_quick,
    ),
)
NAMES = tuple(b.name for b in BENCHMARKS)

CAVEATS = (
    "- Timings come from a 2-core machine that other jobs were using at the same time; "
    "compare ratios measured in the same run, not absolute seconds across runs.",
    "- `explain_speed` times `interpretable_kd.attributions.explain` alone and "
    "`report_speed` the whole `DistillationReport.from_models`, each against shap's "
    "`KernelExplainer`, which is timed on a few rows and scaled linearly to all of them.",
    "- In the fidelity benchmark the 'best student' is picked on the test rows, so its "
    "number is optimistic; the soft tree's headline column uses one temperature for all "
    "data sets. Each fit has an epoch cap (see the set-up table in the fidelity report), "
    "so these are the numbers of a 45-minute budget, not of fully converged students.",
    "- EBM runs on fewer seeds than the rest, and on adult and the 100,000-row synthetic "
    "set on a 20,000-row sample of the training rows (its fit is the slowest by far).",
)


def run_one(benchmark: Benchmark, quick: bool, out: Path) -> dict[str, Any]:
    argv = benchmark.argv(quick, out)
    entry: dict[str, Any] = {
        "name": benchmark.name,
        "command": f"python -m {benchmark.module} {' '.join(argv)}".strip(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
    }
    start = time.perf_counter()
    source = common.REPO_ROOT / Path(*benchmark.module.split(".")).with_suffix(".py")
    if not source.exists():
        entry["status"] = f"skipped: {common.relative(source)} does not exist"
        entry["seconds"] = 0.0
        return entry
    try:
        module = importlib.import_module(benchmark.module)
        main = getattr(module, "main", None)
        if main is None:
            entry["status"] = "skipped: the module has no main(argv)"
            return entry
        code = main(argv)
        ok = code in (None, 0) or isinstance(code, dict)
        entry["status"] = "ok" if ok else f"failed: exit code {code}"
    except SystemExit as exc:  # argparse errors
        entry["status"] = "ok" if exc.code in (None, 0) else f"failed: exit {exc.code}"
    except Exception as exc:
        entry["status"] = f"failed: {type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc()[-4000:]
        traceback.print_exc()
    finally:
        entry["seconds"] = time.perf_counter() - start
    return entry


# --------------------------------------------------------------------------- summary
def _link(out: Path, name: str) -> str:
    return f"[{name}]({name})" if (out / name).exists() else f"{name} (not written yet)"


def _fidelity_section(out: Path, quick: bool) -> list[str]:
    from . import fidelity

    stem = common.stem("fidelity", quick)
    raw, summary = out / f"{stem}.csv", out / f"{stem}_summary.csv"
    if not (raw.exists() and summary.exists()):
        return ["Not run yet: `python -m benchmarks --only fidelity`.", ""]
    return fidelity.headline(pd.read_csv(raw), pd.read_csv(summary), stem)


def _speed_section(out: Path, quick: bool) -> list[str]:
    lines: list[str] = []
    rows = []
    tree = out / f"{common.stem('soft_tree_speed', quick)}.csv"
    if tree.exists():
        frame = pd.read_csv(tree)
        for _, row in frame.iterrows():
            rows.append(
                {
                    "what": f"soft tree epoch, depth {row['depth']}, {row['data']}",
                    "library": f"{row['library_s_per_epoch']:.3f} s",
                    "reference": f"{row['reference_s_per_epoch']:.3f} s (node-by-node tree)",
                    "ratio": f"{row['speedup']:.1f}x faster",
                }
            )
    explain = out / f"{common.stem('explain_speed', quick)}.json"
    if explain.exists():
        data = json.loads(explain.read_text())
        kernel = data.get("kernel", {})
        teacher = next(iter(data.get("models", {}).items()), None)
        if teacher and kernel:
            rows.append(
                {
                    "what": f"explain {data['rows']} rows of the teacher (breast_cancer)",
                    "library": f"{teacher[1]['seconds']:.2f} s (`explain`, {teacher[1]['method']})",
                    "reference": f"{kernel['seconds_scaled_to_rows']:.1f} s (shap KernelExplainer, "
                    f"{kernel['rows']} rows timed, scaled)",
                    "ratio": f"{kernel['speedup_of_explain']:.1f}x faster",
                }
            )
            rows.append(
                {
                    "what": "explain all 5 models of a report",
                    "library": f"{data['total_seconds']:.2f} s",
                    "reference": "–",
                    "ratio": f"top-5 agreement with KernelExplainer "
                    f"{kernel['feature_agreement_at_5_with_explain']:.2f}",
                }
            )
    report = out / f"{common.stem('report_speed', quick)}.md"
    if report.exists():
        text = report.read_text(encoding="utf-8")
        ours = re.search(r"`from_models`[^|]*\|\s*([\d.]+)\s*\|", text)
        kernel = re.search(r"KernelExplainer, attributions only[^|]*\|\s*([\d.]+)\s*\|", text)
        ratio = re.search(r"ratio KernelExplainer / from_models\s*\|\s*([\d.]+x)", text)
        if ours and kernel and ratio:
            rows.append(
                {
                    "what": "a whole report: `DistillationReport.from_models`, breast_cancer, "
                    "200 rows, teacher + 3 students",
                    "library": f"{ours.group(1)} s (everything in the report)",
                    "reference": f"{kernel.group(1)} s (shap KernelExplainer, attributions "
                    "only, scaled)",
                    "ratio": f"{ratio.group(1)} faster",
                }
            )
    defaults = out / f"{common.stem('defaults_speed', quick)}.json"
    if defaults.exists():
        from . import defaults_speed

        rows += defaults_speed.headline(json.loads(defaults.read_text()))
    demo = out / f"{common.stem('end_to_end', quick)}.csv"
    if demo.exists():
        frame = pd.read_csv(demo)
        ok = frame[frame["returncode"] == 0]
        rows.append(
            {
                "what": "`interpretable-kd demo`, end to end (fresh process)",
                "library": f"{ok['seconds'].median():.1f} s (median of {len(ok)})",
                "reference": "–",
                "ratio": f"peak RSS {ok['peak_rss_mb'].max():.0f} MB",
            }
        )
    if rows:
        lines += common.markdown_table(pd.DataFrame(rows), align_right=False)
    else:
        lines.append("Not run yet.")
    files = [
        _link(out, f"{common.stem('soft_tree_speed', quick)}.md"),
        _link(out, f"{common.stem('explain_speed', quick)}.json"),
        _link(out, f"{common.stem('report_speed', quick)}.md"),
        _link(out, f"{common.stem('end_to_end', quick)}.md"),
        _link(out, f"{common.stem('defaults_speed', quick)}.md"),
    ]
    lines += ["", "Details: " + ", ".join(files) + ".", ""]
    return lines


def _surrogates_section(out: Path, quick: bool) -> list[str]:
    from . import _surrogates_report

    loaded = _surrogates_report.load_summary(out, quick)
    if loaded is None:
        return ["Not run yet: `python -m benchmarks --only surrogates`.", ""]
    return _surrogates_report.headline(*loaded, common.stem("surrogates", quick))


def _scale_section(out: Path, quick: bool) -> list[str]:
    from . import scale

    path = out / f"{common.stem('scale', quick)}.csv"
    if not path.exists():
        return ["Not run yet: `python -m benchmarks --only scale`.", ""]
    return scale.headline(pd.read_csv(path), f"{common.stem('scale', quick)}.md")


def write_summary(
    out: Path, quick: bool, runs: dict[str, Any], benchmarks: Sequence[Benchmark]
) -> Path:
    """The summary of every benchmark's latest results (README.md, README_quick.md)."""
    path = out / ("README_quick.md" if quick else "README.md")
    suite = runs.get("_suite", {})
    machine = suite.get("machine") or common.machine_info()
    versions = suite.get("versions") or common.package_versions()
    flag = " --quick" if quick else ""
    lines = [
        "# Benchmarks" + (" (quick settings)" if quick else ""),
        "",
        "How far a distilled student can be trusted to stand for its teacher, against what "
        "users fit today, and how fast and how large the library runs. Everything here is "
        "generated: rerun the commands to check it.",
        "",
        "## How to run",
        "",
        "```",
        f"python -m benchmarks{flag}                       # everything (summary: this file)",
        f"python -m benchmarks{flag} --only fidelity,scale # some of: {', '.join(NAMES)}",
        "python -m benchmarks.fidelity --quick            # one benchmark on its own",
        "```",
        "",
        "The optional EBM baseline needs `interpret-core` (`pip install interpret-core`); "
        "without it the fidelity benchmark runs and says EBM was not run.",
        "",
        "## Machine and versions",
        "",
        f"- {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gb')} GB "
        f"RAM, {machine.get('os')}; benchmarks run torch on 1 thread (the fidelity benchmark "
        "uses 2 worker processes, one per core).",
        f"- {common.SHARED_MACHINE_NOTE} 1-minute load average at the end of the run: "
        f"{machine.get('load_average_1min')} (2 means both cores fully busy).",
        "- " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "## Runs",
        "",
        "| benchmark | what | command | status | minutes | finished | results |",
        "|---|---|---|---|---:|---|---|",
    ]
    for benchmark in benchmarks:
        entry = runs.get(benchmark.name, {})
        md = out / f"{common.stem(benchmark.name, quick)}.md"
        alt = out / f"{common.stem(benchmark.name, quick)}.json"
        result = (
            _link(out, md.name) if md.exists() else (_link(out, alt.name) if alt.exists() else "–")
        )
        minutes = f"{entry['seconds'] / 60:.1f}" if "seconds" in entry else "–"
        command = f"`{entry['command']}`" if "command" in entry else "–"
        lines.append(
            f"| {benchmark.name} | {benchmark.what} | {command} | "
            f"{entry.get('status', 'not run')} | {minutes} | "
            f"{entry.get('started', '–')} | {result} |"
        )
    if suite.get("seconds"):
        lines += [
            "",
            f"Last full suite run (`python -m benchmarks{flag}`: "
            f"{', '.join(suite['benchmarks'])}): {suite['seconds'] / 60:.1f} minutes, "
            f"finished {suite['finished']}.",
        ]
    partial = runs.get("_partial", {})
    if partial.get("seconds") and partial.get("finished", "") > suite.get("finished", ""):
        lines.append(
            f"Run since then with `--only`: {', '.join(partial['benchmarks'])} "
            f"({partial['seconds'] / 60:.1f} minutes, finished {partial['finished']})."
        )
    lines += [
        "",
        "## Like with like: each student at defaults vs its same-class surrogate",
        "",
        *_surrogates_section(out, quick),
        "## Fidelity: distilled students vs global surrogates",
        "",
        *_fidelity_section(out, quick),
        "## Speed",
        "",
        *_speed_section(out, quick),
        "## Scale",
        "",
        *_scale_section(out, quick),
        "## Soft decision trees on digits (Frosst and Hinton 2017)",
        "",
        "See " + _link(out, f"{common.stem('soft_tree_paper', quick)}.md") + ".",
        "",
        "## Caveats",
        "",
        *CAVEATS,
    ]
    common.write_markdown(lines, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small settings (< 5 minutes)")
    parser.add_argument(
        "--only", default=None, help=f"comma-separated benchmarks: {', '.join(NAMES)}"
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="only rewrite the summary from the files"
    )
    args = parser.parse_args(argv)
    # The other benchmarks write to reports/benchmarks relative to the working directory.
    os.chdir(common.REPO_ROOT)
    out = common.OUT_DIR
    selected = list(BENCHMARKS)
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(NAMES))
        if unknown:
            parser.error(
                f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}"
            )
        selected = [b for b in BENCHMARKS if b.name in wanted]
    log_path = out / f"{common.stem('runs', args.quick)}.json"
    runs = json.loads(log_path.read_text()) if log_path.exists() else {}
    total_start = time.perf_counter()
    if not args.summary_only:
        for benchmark in selected:
            print(f"\n=== {benchmark.name}: {benchmark.what}", flush=True)
            entry = run_one(benchmark, args.quick, out)
            runs[benchmark.name] = entry
            print(
                f"=== {benchmark.name}: {entry['status']} in {entry['seconds']:.0f} s", flush=True
            )
            common.write_json(runs, log_path)
        # A full suite run, or a later run of some benchmarks (--only): kept apart, so that
        # the summary still shows how long the whole suite took.
        runs["_partial" if args.only else "_suite"] = {
            "benchmarks": [b.name for b in selected],
            "seconds": time.perf_counter() - total_start,
            "finished": dt.datetime.now().isoformat(timespec="seconds"),
            "machine": common.machine_info(),
            "versions": common.package_versions(),
        }
        common.write_json(runs, log_path)
    summary = write_summary(out, args.quick, runs, BENCHMARKS)
    print("\nResults:")
    for name in NAMES:
        entry = runs.get(name)
        if entry:
            print(f"  {name:16s} {entry['status']:<10.60s} {entry.get('seconds', 0):7.0f} s")
    print(f"  all result files: {common.relative(out)}/")
    print(f"  summary:          {common.relative(summary)}")
    print(f"  run log:          {common.relative(log_path)}")
    if not args.summary_only:
        print(f"  total:            {(time.perf_counter() - total_start) / 60:.1f} minutes")
    failed = [
        b.name for b in selected if not runs.get(b.name, {}).get("status", "").startswith("ok")
    ]
    return 1 if failed and not args.summary_only else 0


if __name__ == "__main__":
    raise SystemExit(main())
