"""The report in a real browser: headless Chromium (Debian's package) through playwright.

These tests fail, never skip, when Chromium is missing: `make test` installs it, and a
report nobody opened in a browser is not tested.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from interpretable_kd import (
    DistilledClassifier,
    MLPTeacher,
    ShallowMLPClassifier,
    SoftLogisticRegression,
)
from interpretable_kd.report.numbers import DistillationReport

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
NAMES = ["age", SCRIPT, BREAKOUT, "income", "tenure"]
HEADINGS = [
    "Summary",
    "Metrics",
    "Accuracy and fidelity",
    "Agreement matrices",
    "Feature importance",
    "Attribution agreement",
    "White-box views",
    "Where not to trust the students",
    "Distill-and-Compare",
    "Reproducibility",
]


@pytest.fixture(scope="module")
def report_path(binary_data, tmp_path_factory) -> Path:
    """One small report with hostile feature, class and student names; built once. (The
    soft tree's views are checked in test_report_html.py.)"""
    X, y = binary_data
    frame = pd.DataFrame(X, columns=NAMES)
    train, test, y_train, y_test = frame.iloc[:140], frame.iloc[140:], y[:140], y[140:]
    teacher = MLPTeacher(hidden_units=(16,), learning_rate=0.01, max_epochs=60, random_state=0)
    teacher.fit(train, y_train)
    makers = {
        "logistic": lambda: SoftLogisticRegression(max_epochs=60, random_state=0),
        f"mlp {SCRIPT}": lambda: ShallowMLPClassifier(hidden_units=8, random_state=0),
    }
    students = {
        name: DistilledClassifier(teacher, make(), random_state=0).fit(train, y_train)
        for name, make in makers.items()
    }
    report = DistillationReport.from_models(
        teacher,
        students,
        test,
        y_test,
        background=train,
        outcome_students={"logistic": makers["logistic"]().fit(train, y_train)},
        row_ids=[f"customer-{i:04d}" for i in range(len(test))],
        segments={"region": ["north" if i % 3 else "south" for i in range(len(test))]},
        class_names=[SCRIPT, BREAKOUT],
        explain_rows=30,
        n_bootstrap=100,
        max_background=15,
        random_state=0,
    )
    return report.save(tmp_path_factory.mktemp("browser") / "report")


@pytest.fixture(scope="module")
def browser() -> Any:
    assert shutil.which("chromium") or Path(CHROMIUM).exists(), (
        f"Chromium is missing ({CHROMIUM}); install Debian's package: apt-get install -y "
        "chromium (never `playwright install`)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def opened(browser, report_path, tmp_path_factory) -> dict[str, Any]:
    """The report opened once: console messages, dialogs, page errors and a screenshot."""
    events: dict[str, list[str]] = {"console": [], "dialog": [], "pageerror": [], "request": []}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: events["console"].append(f"{message.type}: {message.text}"))

    def on_dialog(dialog: Any) -> None:
        events["dialog"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: events["pageerror"].append(str(error)))
    page.on("request", lambda request: events["request"].append(request.url))
    page.goto(report_path.as_uri(), wait_until="load")
    screenshot = tmp_path_factory.mktemp("screens") / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    headings = [h.inner_text().strip() for h in page.locator("h2").all() if h.is_visible()]
    title = page.title()
    texts = page.locator("body").inner_text()
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
    )
    page.close()
    return {
        **events,
        "screenshot": screenshot,
        "headings": headings,
        "title": title,
        "text": texts,
        "images": images,
    }


def test_screenshot_is_a_full_page_png(opened) -> None:
    from PIL import Image

    path = opened["screenshot"]
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(path) as image:
        width, height = image.size
        assert width >= 1000 and height > 3000  # the whole report, not one screen
        colours = image.convert("RGB").resize((64, 256)).getcolors(maxcolors=64 * 256)
        assert colours is not None and len(colours) > 50  # not a blank page


def test_expected_sections_are_visible(opened) -> None:
    for heading in HEADINGS:
        assert any(h.endswith(heading) for h in opened["headings"]), heading
    assert opened["title"] == "Distillation report: data"


def test_console_shows_no_error_and_no_dialog_opens(opened) -> None:
    assert opened["pageerror"] == []
    assert [m for m in opened["console"] if m.startswith("error")] == []
    assert opened["console"] == []  # a hostile onerror handler would log here
    assert opened["dialog"] == []


def test_hostile_names_render_as_text(opened) -> None:
    text = opened["text"]
    assert SCRIPT in text
    assert BREAKOUT in text
    assert f"mlp {SCRIPT}" in text


def test_images_load_from_the_page_itself(opened) -> None:
    assert opened["images"]
    for complete, width, source in opened["images"]:
        assert complete and width > 0
        assert source == "data:image/png;base64,"
    assert all(url.startswith(("file://", "data:")) for url in opened["request"])


def test_numbers_are_readable_without_javascript(browser, report_path) -> None:
    page = browser.new_page(java_script_enabled=False)
    page.goto(report_path.as_uri())
    cells = page.locator("table.metrics tbody.students tr").count()
    visible = page.get_by_role("heading", name="Reproducibility").is_visible()
    page.close()
    assert cells == 2
    assert visible


#: JavaScript: elements whose text is cut (their content is wider or taller than their
#: box without a scrollable container), and the page's horizontal overflow.
LAYOUT_PROBE = """() => {
  const cut = [];
  const selector = "h1, h2, h3, h4, th, td, caption, summary, figcaption, .card h3, .badge";
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (style.display === "none" || !el.offsetParent) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    if (style.overflow !== "visible" && style.overflow !== "auto" && el.scrollWidth > el.clientWidth + 1) {
      cut.push(el.tagName + ": " + el.textContent.slice(0, 40));
    }
    let parent = el.parentElement;
    while (parent && parent !== document.body) {
      const ps = getComputedStyle(parent);
      if (ps.overflowX === "auto" || ps.overflowX === "scroll" || ps.display === "block" && parent.tagName === "TABLE") break;
      if (ps.overflowX === "hidden") {
        const pb = parent.getBoundingClientRect();
        if (box.right > pb.right + 1 || box.left < pb.left - 1) cut.push(el.tagName + " in hidden: " + el.textContent.slice(0, 40));
        break;
      }
      parent = parent.parentElement;
    }
  }
  const names = Array.from(document.querySelectorAll(".card h3, .student-block h3")).map(h => h.textContent.trim());
  return {cut, scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth, names};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_has_no_sideways_scroll_and_no_cut_label(
    browser, report_path, width, tmp_path_factory
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(report_path.as_uri(), wait_until="load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    probe = page.evaluate(LAYOUT_PROBE)
    shot = tmp_path_factory.mktemp("layout") / f"browser_{width}px.png"  # kept for a look
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert probe["scrollWidth"] <= probe["width"], probe["scrollWidth"]
    assert probe["cut"] == []
    assert any(name == f"mlp {SCRIPT}" for name in probe["names"])  # never truncated
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_tables_sort_with_the_inline_script(browser, report_path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report_path.as_uri(), wait_until="load")
    table = page.locator("table.disagreements").first
    gaps = [float(t) for t in table.locator("tbody tr td:nth-child(6)").all_inner_texts()]
    assert gaps == sorted(gaps, reverse=True)  # largest disagreement first
    table.locator("thead th").nth(5).click()
    ascending = [float(t) for t in table.locator("tbody tr td:nth-child(6)").all_inner_texts()]
    header = table.locator("thead th").nth(5).get_attribute("aria-sort")
    page.close()
    assert ascending == sorted(gaps)
    assert header == "ascending"


def test_where_section_names_ids_and_the_lowest_group(opened) -> None:
    text = opened["text"]
    assert "customer-0" in text  # the row ids given, not positions
    assert "lowest fidelity in" in text
