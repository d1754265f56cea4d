"""Big inputs finish within a memory cap: 10,000 columns through the explainer and a
report of 1,000 classes, each in a subprocess whose address space is capped
(``resource.setrlimit(RLIMIT_AS)``) at what its imports took plus 2 GB. Before the fix the
first needed 3 GB for one batch of model inputs (65,536 rows x 10,000 float64) and the
second more than 10 GB to draw a 1,000 x 1,000 agreement matrix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np

from interpretable_kd.report import html
from interpretable_kd.report._summaries import confusion_summary, top_confusions

ROOT = Path(__file__).resolve().parents[1]

#: Measures the footprint after the imports and caps the address space 2 GB above it.
_CAP = textwrap.dedent(
    """
    import resource
    size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + 2 * 1024**3,) * 2)
    """
)


def _run_capped(prelude: str, body: str, *args: str) -> list[str]:
    """Run ``prelude`` (imports, data), then the cap, then ``body``; the printed lines."""
    code = textwrap.dedent(prelude) + _CAP + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_ten_thousand_columns_are_explained_within_two_gb() -> None:
    """A linear softmax teacher on 10,000 columns, one row against one background row:
    2 * 9,999 = 19,998 model inputs of 10,000 features, in calls of at most
    256 MB // (32 * 10,000) = 838 rows; complete to float64 rounding."""
    lines = _run_capped(
        """
        import numpy as np
        from interpretable_kd.attributions import explain
        rng = np.random.default_rng(0)
        X = rng.normal(size=(3, 10_000))
        W = rng.normal(size=(10_000, 2)) / 100
        calls = []

        class Linear:
            def predict_proba(self, Z):
                calls.append(len(Z))
                logits = Z @ W
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
        """,
        """
        a = explain(Linear(), X[:1], X, max_background=1, n_permutations=2, random_state=0)
        gap = float(np.abs(a.values.sum(1) + a.base_values - a.model_output).max())
        print(a.values.shape, a.method, sum(calls[2:]), max(calls[2:]), gap)
        """,
    )
    shape, method, inputs, largest, gap = lines[-1].rsplit(" ", 4)
    assert shape == "(1, 10000)"
    assert method.endswith("permutation")
    assert int(inputs) == 2 * 9_999
    assert int(largest) <= 256 * 1024**2 // (32 * 10_000)
    assert float(gap) < 1e-12


def test_a_thousand_classes_report_saves_within_two_gb(tmp_path) -> None:
    """A report on 2,000 rows of 1,000 classes (decision trees, 4 features, the quick
    preset) saves within the cap; its agreement figure is the summary of the most frequent
    disagreements, and metrics.json still holds the full 1,000 x 1,000 matrix."""
    out = tmp_path / "report"
    lines = _run_capped(
        """
        import sys, warnings
        import numpy as np
        from sklearn.tree import DecisionTreeClassifier
        from interpretable_kd import DistillationReport
        rng = np.random.default_rng(0)
        k = 1000
        X = rng.normal(size=(2 * k, 4))
        y = np.tile(np.arange(k), 2)
        teacher = DecisionTreeClassifier(random_state=0).fit(X, y)
        student = DecisionTreeClassifier(max_depth=9, random_state=0).fit(X, teacher.predict(X))
        """,
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = DistillationReport.from_models(
                teacher, {"tree": student}, X, y, preset="quick", explain_rows=5,
                n_bootstrap=20, max_background=5, random_state=0,
            )
        report.save(sys.argv[1])
        print("saved")
        """,
        str(out),
    )
    assert lines[-1] == "saved"
    page = (out / "index.html").read_text()
    assert "Most frequent disagreements" in page
    assert (out / "figures" / "agreement_matrices.png").stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    matrix = np.asarray(next(iter(metrics["students"].values()))["agreement_matrix"])
    assert matrix.shape == (1000, 1000)
    assert matrix.sum() == 2000
    # The page's one inline script (table sorting) is what html's docstring describes.
    assert len(re.findall(r"<script\b", page)) == 1
    assert "no script" not in (html.__doc__ or "")
    assert "one small\n  inline script" in (html.__doc__ or "")


def test_top_confusions_are_the_largest_off_diagonal_cells() -> None:
    counts = np.array([[50, 3, 0, 7], [1, 40, 3, 0], [0, 0, 30, 0], [9, 0, 2, 20]])
    assert top_confusions(counts, 3) == [(3, 0, 9), (0, 3, 7), (0, 1, 3)]
    assert top_confusions(counts, 10) == [
        (3, 0, 9),
        (0, 3, 7),
        (0, 1, 3),
        (1, 2, 3),
        (3, 2, 2),
        (1, 0, 1),
    ]
    assert top_confusions(np.diag([5, 6, 7]), 5) == []


def test_confusion_summary_size_does_not_grow_with_the_classes() -> None:
    """The summary of 40 and of 1,000 classes have the same size (one bar per shown
    disagreement); a student without disagreements says so."""

    def report(k: int, off: int) -> types.SimpleNamespace:
        matrix = np.diag(np.full(k, 10))
        matrix[1, 0] = off
        student = types.SimpleNamespace(agreement_matrix=matrix, fidelity=0.95)
        perfect = types.SimpleNamespace(agreement_matrix=np.diag(np.full(k, 10)), fidelity=1.0)
        names = [f"c{i}" for i in range(k)]
        return types.SimpleNamespace(students={"a": student, "b": perfect}, class_names=names)

    small = confusion_summary(report(40, 4))
    large = confusion_summary(report(1000, 4))
    assert small.get_size_inches().tolist() == large.get_size_inches().tolist()
    texts = [t.get_text() for ax in large.axes for t in ax.texts]
    assert " 4 (29%)" in texts  # 4 of the teacher's 14 rows of class c1
    assert "no disagreements" in texts
    ticks = [t.get_text() for t in large.axes[0].get_yticklabels()]
    assert ticks == ["c1 → c0"]
