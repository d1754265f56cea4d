"""DistillationReport.save: a self-contained index.html, its figures and metrics.json,
written atomically, with every name from the data escaped."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from interpretable_kd import (
    DistilledClassifier,
    MLPTeacher,
    ShallowMLPClassifier,
    SoftLogisticRegression,
    as_teacher,
)
from interpretable_kd.exceptions import ReportError
from interpretable_kd.report import figures, html, writer
from interpretable_kd.report.numbers import DistillationReport
from interpretable_kd.students import SoftDecisionTreeClassifier

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
NAMES = ["age", SCRIPT, BREAKOUT, "income $ & <b>bold</b>", "tenure"]
CLASSES = [SCRIPT, BREAKOUT]
STUDENTS = ["logistic", "mlp", f"tree {BREAKOUT}"]
FAST = {"explain_rows": 30, "n_bootstrap": 100, "max_background": 15}
SECTIONS = [
    "summary",
    "metrics",
    "accuracy-fidelity",
    "agreement-matrices",
    "feature-importance",
    "attribution-agreement",
    "white-box",
    "disagreements",
    "distill-and-compare",
    "reproducibility",
]


def _split(binary_data: tuple[np.ndarray, np.ndarray]) -> tuple[Any, ...]:
    X, y = binary_data
    frame = pd.DataFrame(X, columns=NAMES)
    return frame.iloc[:140], frame.iloc[140:], y[:140], y[140:]


@pytest.fixture(scope="module")
def report(binary_data) -> DistillationReport:
    """Teacher, three students (one per kind) and outcome students, with hostile feature,
    class and student names; do not refit."""
    train, test, y_train, y_test = _split(binary_data)
    teacher = MLPTeacher(hidden_units=(16,), learning_rate=0.01, max_epochs=60, random_state=0)
    teacher.fit(train, y_train)
    kinds = [
        lambda: SoftLogisticRegression(max_epochs=60, random_state=0),
        lambda: ShallowMLPClassifier(hidden_units=8, max_epochs=60, random_state=0),
        lambda: SoftDecisionTreeClassifier(depth=2, max_epochs=60, random_state=0),
    ]
    students = {
        name: DistilledClassifier(teacher, make(), random_state=0).fit(train, y_train)
        for name, make in zip(STUDENTS, kinds, strict=True)
    }
    outcome = {STUDENTS[0]: kinds[0]().fit(train, y_train)}
    return DistillationReport.from_models(
        teacher,
        students,
        test,
        y_test,
        background=train,
        outcome_students=outcome,
        class_names=CLASSES,
        dataset_name=f"toy {SCRIPT}",
        random_state=0,
        **FAST,
    )


@pytest.fixture(scope="module")
def saved(report, tmp_path_factory) -> Path:
    """The report saved once for the whole module: the path of index.html."""
    return report.save(tmp_path_factory.mktemp("saved") / "report")


@pytest.fixture(scope="module")
def page(saved) -> str:
    return saved.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def soup(page) -> BeautifulSoup:
    return BeautifulSoup(page, "html.parser")


@pytest.fixture(scope="module")
def metrics(saved) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise AssertionError(f"metrics.json holds {constant}, which is not JSON")

    text = (saved.parent / "metrics.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def no_figures(monkeypatch):
    """Skip drawing (the slow part) in tests about where files go, not what they show."""
    monkeypatch.setattr(html, "_render_figures", lambda report: {"students": {}})


def _lookup(entry: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        entry = entry[part]
    return entry


def _expected_text(value: Any) -> str:
    if isinstance(value, list):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


# --------------------------------------------------------------------------- files
def test_save_writes_index_figures_and_metrics(saved) -> None:
    directory = saved.parent
    assert saved.name == "index.html"
    assert sorted(p.name for p in directory.iterdir()) == [
        ".interpretable-kd-report.json",
        "disagreements.csv",
        "figures",
        "index.html",
        "metrics.json",
    ]
    pngs = sorted((directory / "figures").glob("*.png"))
    assert len(pngs) >= 8
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in pngs)


def test_figure_files_are_at_least_150_dpi(saved) -> None:
    for path in (saved.parent / "figures").glob("*.png"):
        with Image.open(path) as image:
            dpi_x, dpi_y = image.info["dpi"]
            assert dpi_x >= 149.99 and dpi_y >= 149.99, path.name
            assert image.width >= 600, path.name


def test_metrics_json_has_schema_version_1_and_the_design_keys(metrics, report) -> None:
    assert metrics["schema_version"] == 1
    assert {"dataset", "teacher", "students", "config", "versions"} <= set(metrics)
    assert {"name", "n_rows", "n_features", "classes"} <= set(metrics["dataset"])
    assert metrics["dataset"]["classes"] == CLASSES
    assert "accuracy" in metrics["teacher"]
    assert list(metrics["students"]) == STUDENTS
    for entry in metrics["students"].values():
        assert {
            "kind",
            "accuracy",
            "accuracy_ci",
            "fidelity",
            "fidelity_ci",
            "kl_divergence",
            "js_distance",
            "attribution",
            "complexity",
        } <= set(entry)
        assert {"rank_correlation", "feature_agreement_at_k", "k"} <= set(entry["attribution"])
        assert "parameters" in entry["complexity"]
    assert metrics == json.loads(json.dumps(report.to_dict()))


# --------------------------------------------------------------------------- the page
def test_title_names_the_data_set_escaped(soup) -> None:
    assert soup.title is not None
    assert soup.title.get_text() == f"Distillation report: toy {SCRIPT}"
    assert soup.h1.get_text() == soup.title.get_text()


def test_every_section_is_present_with_a_heading(soup) -> None:
    for section in SECTIONS:
        node = soup.find("section", id=section)
        assert node is not None, section
        assert node.find("h2") is not None, section


def test_metrics_table_has_one_row_per_student(soup) -> None:
    rows = soup.select("table.metrics tbody.students tr")
    assert [row["data-model"] for row in rows] == STUDENTS
    assert len(soup.select("table.metrics tbody.teacher tr")) == 1


def test_numbers_in_the_metrics_table_equal_metrics_json(soup, metrics) -> None:
    checked = 0
    for row in soup.select("table.metrics tr[data-model]"):
        name = row["data-model"]
        entry = metrics["teacher"] if name == "teacher" else metrics["students"][name]
        for cell in row.select("[data-metric]"):
            expected = _lookup(entry, cell["data-metric"])
            assert cell.get_text() == _expected_text(expected), (name, cell["data-metric"])
            checked += 1
    assert checked >= 3 * 11 + 3


def test_summary_has_each_students_verdict(soup, report) -> None:
    summary = soup.find("section", id="summary").get_text(" ")
    for name in STUDENTS:
        assert report.verdict(name) in " ".join(summary.split())


def test_every_image_is_an_embedded_png_matching_a_figure_file(soup, saved) -> None:
    images = soup.find_all("img")
    assert images
    embedded = set()
    for image in images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        data = base64.b64decode(image["src"][len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        assert image.get("alt")
        embedded.add(data)
    files = {p.read_bytes() for p in (saved.parent / "figures").glob("*.png")}
    assert embedded == files


def test_page_is_self_contained(page, soup) -> None:
    assert "http://" not in page
    assert "https://" not in page
    assert [(t.get("id"), t.get("src")) for t in soup.find_all("script")] == [
        ("sort-tables", None)
    ]  # only the inline table-sorting script (issue 13)
    assert soup.find("link") is None
    assert soup.find("style") is not None  # inline CSS
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:")
    for tag in soup.find_all(href=True):
        assert tag["href"].startswith("#")


def test_hostile_names_are_escaped_and_shown_as_text(page, soup) -> None:
    assert SCRIPT not in page
    assert "<img src=x" not in page
    assert [(t.get("id"), t.get("src")) for t in soup.find_all("script")] == [
        ("sort-tables", None)
    ]  # only the inline table-sorting script (issue 13)
    assert not soup.find_all(attrs={"onerror": True})
    assert all(image["src"].startswith("data:") for image in soup.find_all("img"))
    text = soup.get_text()
    assert SCRIPT in text
    assert BREAKOUT in text
    assert "income $ & <b>bold</b>" in text
    assert soup.find("b", string="bold") is None
    rows = soup.select("table.metrics tbody.students tr")
    assert rows[2]["data-model"] == f"tree {BREAKOUT}"


def test_white_box_views_show_coefficients_with_odds_ratios_and_the_tree(soup, report) -> None:
    coefficients = soup.select("table.coefficients tbody tr")
    assert len(coefficients) == len(NAMES)
    model = report.students["logistic"].model.student_
    coef = dict(zip(NAMES, model.coef_[0], strict=True))
    per_sd = dict(zip(NAMES, model.coef_standardized_[0], strict=True))
    for row in coefficients:
        feature, value, odds, sd_value, _ = (cell.get_text() for cell in row.find_all("td"))
        assert value == f"{coef[feature]:+.4g}"
        assert odds == f"{np.exp(coef[feature]):.3f}"
        assert sd_value == f"{per_sd[feature]:+.3f}"
    header = soup.select_one("table.coefficients thead").get_text()
    assert "per unit of the column" in header and "per standard deviation" in header
    assert soup.select("table.leaves tbody tr")  # the tree's leaf table
    assert soup.select("table.nodes tbody tr")


def test_disagreement_and_distill_and_compare_sections_list_rows(soup, report) -> None:
    disagreements = soup.select("table.disagreements tbody tr")
    assert len(disagreements) == sum(
        min(html.MAX_DISAGREEMENTS_SHOWN, int((report.disagreements["student"] == s).sum()))
        for s in STUDENTS
    )
    assert soup.select("table.compare tbody tr")  # importance, mimic vs outcome


def test_reproducibility_shows_seed_fingerprint_versions_and_config(soup, report) -> None:
    section = soup.find("section", id="reproducibility").get_text(" ")
    assert report.dataset["fingerprint"] in section
    for package, version in report.versions.items():
        assert package in section and version in section
    assert "n_bootstrap" in section and "explain_rows" in section


# --------------------------------------------------------------------------- figures
def test_figures_leave_pyplot_and_the_backend_alone(report) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    fig = figures.accuracy_fidelity(report)
    data = figures.to_png(fig)
    assert data.startswith(PNG_SIGNATURE)
    assert plt.get_fignums() == open_figures
    assert matplotlib.get_backend() == backend
    with Image.open(io.BytesIO(data)) as image:
        assert image.info["dpi"][0] >= 149.99


def test_figure_labels_never_turn_names_into_mathtext() -> None:
    assert figures.label("cost $ per $ unit") == r"cost \$ per \$ unit"
    assert figures.label("x" * 100).endswith("…")


def test_model_names_in_figures_are_wrapped_not_cut() -> None:
    """A model's name is drawn whole (issue 13: model names never truncated): a name
    longer than a line wraps; only a name past three lines loses its tail."""
    name = "logistic regression (L1, sharpened teacher)"
    drawn = figures.model_label(name, 18)
    assert drawn.replace("\n", " ") == name and max(map(len, drawn.split("\n"))) <= 18
    assert figures.model_label("cost $ model", 30) == r"cost \$ model"
    long = figures.model_label("word " * 40, 10)
    assert long.count("\n") == 2 and long.endswith("…")


# --------------------------------------------------------------------------- scores only
def test_scores_only_teacher_says_attributions_are_unavailable(
    binary_data, tmp_path, no_figures
) -> None:
    train, test, y_train, y_test = _split(binary_data)
    frame = pd.concat([train, test])
    probability = 1 / (1 + np.exp(-(frame["age"].to_numpy() - frame["tenure"].to_numpy())))
    teacher = as_teacher(probability, X=frame, output="proba")
    student = DistilledClassifier(
        teacher, SoftLogisticRegression(max_epochs=40, random_state=0), random_state=0
    ).fit(train, y_train)
    report = DistillationReport.from_models(
        teacher, {"logistic": student}, test, y_test, min_fidelity=0.0, random_state=0, **FAST
    )
    index = report.save(tmp_path / "scores")
    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    text = " ".join(soup.get_text(" ").split())
    assert "Teacher attributions are unavailable" in text
    assert soup.find("section", id="summary").find(class_="notice") is not None
    assert "noise floor (teacher vs itself)" not in text  # nothing compared, nothing faked
    drawn = figures.global_importance(report)
    assert drawn is not None
    assert [ax.get_title() for ax in drawn.axes] == ["logistic"]  # no teacher column


# --------------------------------------------------------------------------- atomic writes
def test_save_replaces_an_earlier_report(report, tmp_path, no_figures) -> None:
    target = tmp_path / "audit"
    report.save(target)
    index = report.save(target)
    assert index == (target / "index.html").absolute()
    assert json.loads((target / "metrics.json").read_text())["schema_version"] == 1
    assert _leftovers(tmp_path, "audit") == []


def test_save_keeps_a_report_the_user_added_files_to(report, tmp_path, no_figures) -> None:
    """Regression (issue 14): a file the user added to an earlier report was deleted."""
    target = tmp_path / "audit"
    report.save(target)
    (target / "stale.txt").write_text("the user's notes")
    with pytest.raises(ReportError, match="files the report did not write: 'stale.txt'"):
        report.save(target)
    assert (target / "stale.txt").read_text() == "the user's notes"
    assert _leftovers(tmp_path, "audit") == []


def test_save_writes_into_an_empty_directory_and_makes_parents(
    report, tmp_path, no_figures
) -> None:
    (tmp_path / "empty").mkdir()
    assert report.save(tmp_path / "empty").exists()
    assert report.save(tmp_path / "a" / "b" / "c").exists()


def test_save_refuses_a_directory_that_is_not_a_report(report, tmp_path, no_figures) -> None:
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("precious")
    with pytest.raises(ReportError, match=r"thesis.*not empty.*Choose a new or empty directory"):
        report.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["chapter1.tex"]
    assert _leftovers(tmp_path, "thesis") == []


def test_save_refuses_a_file(report, tmp_path, no_figures) -> None:
    target = tmp_path / "report.html"
    target.write_text("not a directory")
    with pytest.raises(ReportError, match="it is a file"):
        report.save(target)
    assert target.read_text() == "not a directory"


def test_failure_while_writing_keeps_the_earlier_report_intact(
    report, tmp_path, monkeypatch
) -> None:
    """Regression guard: a figure that fails half-way must not leave half a report."""
    monkeypatch.setattr(html, "_render_figures", lambda report: {"students": {}})
    target = tmp_path / "audit"
    report.save(target)
    before = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    monkeypatch.undo()

    def broken(report: Any) -> None:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "accuracy_fidelity", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        report.save(target)
    after = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert _leftovers(tmp_path, "audit") == []


def test_failure_on_a_new_target_leaves_nothing_behind(report, tmp_path, monkeypatch) -> None:
    def broken(report: Any) -> None:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "accuracy_fidelity", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        report.save(tmp_path / "new" / "audit")
    assert os.listdir(tmp_path) == []


def test_failure_to_move_the_new_report_in_puts_the_earlier_one_back(
    report, tmp_path, no_figures, monkeypatch
) -> None:
    target = tmp_path / "audit"
    report.save(target)
    before = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    real_replace = os.replace

    def replace(source: Any, destination: Any) -> None:
        if Path(source).name.startswith(".audit.new-"):
            raise OSError("disk full")
        real_replace(source, destination)

    monkeypatch.setattr(writer.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        report.save(target)
    after = {p.name: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert _leftovers(tmp_path, "audit") == []
