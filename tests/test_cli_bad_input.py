"""The command line against hundreds of malformed CSV files: every one ends with exit
status 2, one line on stderr, no traceback and no output directory."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from interpretable_kd import cli


def _base_rows(rnd: random.Random) -> tuple[list[str], list[list[str]]]:
    """A small valid table: a few numeric and text columns and a binary target 'label'."""
    n_numeric, n_text, n_rows = rnd.randint(1, 4), rnd.randint(0, 2), rnd.randint(12, 30)
    header = [f"num{i}" for i in range(n_numeric)] + [f"txt{i}" for i in range(n_text)] + ["label"]
    rows = []
    for r in range(n_rows):
        row = [f"{rnd.gauss(0, 1):.3f}" for _ in range(n_numeric)]
        row += [rnd.choice(["red", "green", "blue"]) for _ in range(n_text)]
        row.append("yes" if r % 2 else "no")
        rows.append(row)
    return header, rows


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def _set_column(rows: list[list[str]], col: int, value: Callable[[int], str]) -> list[list[str]]:
    return [[value(i) if j == col else v for j, v in enumerate(row)] for i, row in enumerate(rows)]


def _malformed(kind: str, rnd: random.Random) -> tuple[bytes, list[str]]:
    """(file content, extra arguments) for one kind of malformed input."""
    header, rows = _base_rows(rnd)
    target = len(header) - 1
    args: list[str] = []
    if kind == "empty file":
        return b"", args
    if kind == "blank lines":
        return b"\n" * rnd.randint(1, 5) + b"   \n", args
    if kind == "header only":
        return _csv(header, []), args
    if kind == "missing target column":
        return _csv(header, rows), ["--target", rnd.choice(["Label", "target", "y", "labels"])]
    if kind == "latin-1 bytes":
        data = bytearray(_csv(header, rows))
        data[rnd.randrange(len(header[0]) + 1, len(data))] = rnd.choice([0xE9, 0xFF, 0xC3, 0x80])
        return bytes(data), args
    if kind == "binary garbage":
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(50, 400))), args
    if kind == "one class":
        return _csv(header, _set_column(rows, target, lambda i: "yes")), args
    if kind == "no labels":
        return _csv(header, _set_column(rows, target, lambda i: "")), args
    if kind == "duplicate columns":
        name = rnd.choice(header[:-1])
        return _csv([*header[:-1], name, "label"], [[*r[:-1], r[0], r[-1]] for r in rows]), args
    if kind == "ragged rows":
        rows[rnd.randrange(len(rows))] += ["1", "2", "3"]
        return _csv(header, rows), args
    if kind == "only the target":
        return _csv(["label"], [[r[-1]] for r in rows]), args
    if kind == "single row per class":
        return _csv(header, rows[:2]), args
    if kind == "continuous target":
        return _csv(header, _set_column(rows, target, lambda i: f"{rnd.random():.6f}")), args
    if kind == "NUL bytes":
        data = bytearray(_csv(header, rows))
        data[rnd.randrange(len(data))] = 0
        return bytes(data), args
    if kind == "unclosed quote":
        rows[rnd.randrange(len(rows))][0] = '"oops'
        return _csv(header, rows), args
    if kind == "scores column missing":
        return _csv(header, rows), ["--teacher-scores", "vendor_score"]
    if kind == "scores not probabilities":
        scored = [*header, "score"]
        return _csv(scored, [[*r, f"{rnd.uniform(2, 9):.2f}"] for r in rows]), [
            "--teacher-scores",
            "score",
        ]
    if kind == "scores with gaps":
        scored = [*header, "score"]
        return _csv(scored, [[*r, "" if i % 3 else "0.4"] for i, r in enumerate(rows)]), [
            "--teacher-scores",
            "score",
        ]
    if kind == "bad temperature":
        return _csv(header, rows), ["--temperature", rnd.choice(["0", "-1", "nan", "inf", "hot"])]
    if kind == "unknown student":
        return _csv(header, rows), ["--students", rnd.choice(["forest", "tree,svm", ",", "lgbm"])]
    raise AssertionError(kind)


KINDS = [
    "empty file",
    "blank lines",
    "header only",
    "missing target column",
    "latin-1 bytes",
    "binary garbage",
    "one class",
    "no labels",
    "duplicate columns",
    "ragged rows",
    "only the target",
    "single row per class",
    "continuous target",
    "NUL bytes",
    "unclosed quote",
    "scores column missing",
    "scores not probabilities",
    "scores with gaps",
    "bad temperature",
    "unknown student",
]
VARIANTS = 10  # 20 kinds x 10 seeded variants = 200 files


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_csv_files_fail_cleanly(kind: str, tmp_path: Path, capsys) -> None:
    assert len(KINDS) * VARIANTS >= 200
    for variant in range(VARIANTS):
        rnd = random.Random(f"{kind}-{variant}")
        content, extra = _malformed(kind, rnd)
        data = tmp_path / f"case{variant}.csv"
        data.write_bytes(content)
        out = tmp_path / f"out{variant}"
        argv = ["report", "--data", str(data), "--target", "label", "--out", str(out), "--quick"]
        argv += extra
        status = cli.main(argv)
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        context = f"{kind} #{variant}: status {status}, stderr {captured.err!r}"
        assert status == 2, context
        assert "Traceback" not in captured.err, context
        errors = [line for line in lines if line.startswith("interpretable-kd: error: ")]
        assert len(errors) == 1, context
        assert not out.exists(), f"{context}: an output directory was left behind"
