"""Reproducibility end to end: the same seed gives byte-identical outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from interpretable_kd import cli


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("determinism")
    outs = []
    for name, seed in (("first", "3"), ("second", "3"), ("other_seed", "4")):
        out = root / name
        argv = ["demo", "--dataset", "wine", "--quick", "--seed", seed, "--out", str(out)]
        assert cli.main(argv) == 0
        outs.append(out)
    return outs[0], outs[1], outs[2]


def test_same_seed_gives_byte_identical_metrics_json(two_runs) -> None:
    """metrics.json holds no timestamps, so the files must be equal byte for byte."""
    first, second, other = two_runs
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    assert (first / "metrics.json").read_bytes() != (other / "metrics.json").read_bytes()


def test_same_seed_gives_identical_figures_and_html(two_runs) -> None:
    first, second, _ = two_runs
    figures = sorted(p.name for p in (first / "figures").glob("*.png"))
    assert figures == sorted(p.name for p in (second / "figures").glob("*.png"))
    for name in figures:
        assert (first / "figures" / name).read_bytes() == (
            second / "figures" / name
        ).read_bytes(), name
    # The page records the command that made it, whose --out differs between the runs.
    first_html = (first / "index.html").read_text().replace(str(first), "OUT")
    second_html = (second / "index.html").read_text().replace(str(second), "OUT")
    assert first_html == second_html
