"""Hostile and careless input (issue 14): never lose a user's files, never read data
wrong in silence, never a traceback.

Data loss first: a report directory is replaced only when it is provably one this
library wrote (marker + manifest); the working directory and the data's directory are
never replaced; SIGKILL at every step of the write leaves the old or the new report
complete, and the next run restores or cleans up. The kill tests use real processes and
real signals, paused at a step by ``INTERPRETABLE_KD_PAUSE_AT``.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interpretable_kd import cli
from interpretable_kd.exceptions import ReportError
from interpretable_kd.report._output import MARKER, check_output_directory, is_report
from interpretable_kd.report.writer import recover, save_report

ERROR = "interpretable-kd: error: "


def _table(n: int = 80, seed: int = 0, labels: tuple[str, str] = ("no", "yes")) -> pd.DataFrame:
    """Two numeric columns, one text column and a label that depends on them."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n).round(4), rng.normal(size=n).round(4)
    colour = rng.choice(["red", "blue"], size=n)
    label = np.where(x1 + x2 + (colour == "red") * 0.5 > 0.25, labels[1], labels[0])
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "label": label})


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code: int, err: str) -> str:
    """The single error line of a failed run (asserts there is exactly one)."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR)]
    assert len(errors) == 1, err
    return errors[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- a real report
@pytest.fixture(scope="module")
def report_run(tmp_path_factory) -> tuple[Path, Path, object]:
    """A small CSV, the report the CLI wrote from it and the report object (pickled)."""
    from interpretable_kd import workflow

    root = tmp_path_factory.mktemp("report")
    data = root / "data.csv"
    _table().to_csv(data, index=False)
    out = root / "first"
    captured = {}
    original = workflow.distil_and_report

    def keep(*args, **kwargs):
        report, path = original(*args, **kwargs)
        captured["report"] = report
        return report, path

    workflow_module = sys.modules["interpretable_kd.cli"]
    old = workflow_module.distil_and_report
    workflow_module.distil_and_report = keep
    try:
        argv = ["report", "--data", data, "--target", "label", "--quick", "--students"]
        code = cli.main([str(a) for a in [*argv, "logistic", "--out", out]])
    finally:
        workflow_module.distil_and_report = old
    assert code == 0
    pickled = root / "report.pkl"
    pickled.write_bytes(pickle.dumps(captured["report"]))
    return data, out, pickled


def test_a_report_carries_a_marker_with_a_manifest(report_run) -> None:
    _, out, _ = report_run
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["library"] == "interpretable_kd"
    assert len(marker["report_id"]) == 32
    files = {k for k, v in marker["manifest"].items() if v["kind"] == "file"}
    assert {"index.html", "metrics.json"} <= files
    assert any(name.startswith("figures/") for name in files)
    assert is_report(out)


def _copy_report(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


# Ways to make a directory that is NOT provably a report (each must be refused, untouched).
NOT_A_REPORT = {
    "project with metrics.json": lambda d, r: (
        d.mkdir(),
        (d / "src").mkdir(),
        (d / "README.md").write_text("mine"),
        (d / "metrics.json").write_text('{"schema_version": 1}'),
    ),
    "old report without marker": lambda d, r: (
        _copy_report(r, d),
        (d / MARKER).unlink(),
    ),
    "user added a file": lambda d, r: (_copy_report(r, d), (d / "notes.txt").write_text("x")),
    "user added a folder": lambda d, r: (_copy_report(r, d), (d / "mine").mkdir()),
    "user edited index.html": lambda d, r: (
        _copy_report(r, d),
        (d / "index.html").write_text("my edits", encoding="utf-8"),
    ),
    "user deleted a figure": lambda d, r: (
        _copy_report(r, d),
        next((d / "figures").glob("*.png")).unlink(),
    ),
    "marker of another library": lambda d, r: (
        _copy_report(r, d),
        (d / MARKER).write_text('{"library": "other", "report_id": "x", "manifest": {}}'),
    ),
    "marker not JSON": lambda d, r: (_copy_report(r, d), (d / MARKER).write_text("{oops")),
    "marker is a list": lambda d, r: (_copy_report(r, d), (d / MARKER).write_text("[1]")),
    "marker alone with other files": lambda d, r: (
        d.mkdir(),
        (d / MARKER).write_text(
            json.dumps({"library": "interpretable_kd", "report_id": "x", "manifest": {}})
        ),
        (d / "thesis.tex").write_text("years of work"),
    ),
    "a symbolic link inside": lambda d, r: (
        _copy_report(r, d),
        (d / "link").symlink_to(d / "index.html"),
    ),
}


@pytest.mark.parametrize("case", list(NOT_A_REPORT))
def test_a_directory_that_is_not_provably_a_report_is_never_replaced(
    case, report_run, tmp_path, capsys
) -> None:
    data, first, _ = report_run
    target = tmp_path / "target"
    NOT_A_REPORT[case](target, first)
    before = _snapshot(target)
    argv = ["report", "--data", data, "--target", "label", "--quick", "--students", "logistic"]
    code, out, err = _run([*argv, "--out", target], capsys)
    line = _one_error(code, err)
    assert "Refusing to replace" in line and "could be lost" in line
    assert out == ""
    assert _snapshot(target) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".target.")]


def test_an_unchanged_report_is_replaced_by_the_next_run(report_run, tmp_path, capsys) -> None:
    data, first, _ = report_run
    target = _copy_report(first, tmp_path / "again")
    old_id = json.loads((target / MARKER).read_text())["report_id"]
    argv = ["report", "--data", data, "--target", "label", "--quick", "--students", "logistic"]
    code, _, err = _run([*argv, "--out", target, "--seed", "1"], capsys)
    assert code == 0, err
    assert json.loads((target / MARKER).read_text())["report_id"] != old_id
    assert is_report(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_the_working_directory_and_its_parents_are_never_replaced(
    report_run, tmp_path, monkeypatch, capsys
) -> None:
    data, _, _ = report_run
    work = tmp_path / "project" / "work"
    work.mkdir(parents=True)
    (work / "data.csv").write_bytes(data.read_bytes())
    monkeypatch.chdir(work)
    for out in (".", "..", str(work), "./", "sub/../."):
        before = _snapshot(tmp_path)
        argv = ["report", "--data", "data.csv", "--target", "label", "--quick", "--out", out]
        line = _one_error(*_run(argv, capsys)[::2])
        assert "current working directory" in line, line
        assert _snapshot(tmp_path) == before
    assert not (work / "sub").exists()


def test_the_directory_of_the_input_data_is_never_replaced(report_run, tmp_path, capsys) -> None:
    data, _, _ = report_run
    folder = tmp_path / "inputs"
    folder.mkdir()
    csv = folder / "data.csv"
    csv.write_bytes(data.read_bytes())
    for out in (folder, tmp_path):
        argv = ["report", "--data", csv, "--target", "label", "--quick", "--out", out]
        line = _one_error(*_run(argv, capsys)[::2])
        assert "directory of the input" in line, line
    assert csv.read_bytes() == data.read_bytes()
    with pytest.raises(ReportError, match="directory of the input"):
        check_output_directory(folder, protect=[csv])


def test_out_through_dotdot_leaves_no_empty_directories(report_run, tmp_path, capsys) -> None:
    data, _, _ = report_run
    out = tmp_path / "a" / "b" / ".." / ".." / "x"
    argv = ["report", "--data", data, "--target", "label", "--quick", "--students", "logistic"]
    code, _, err = _run([*argv, "--out", out], capsys)
    assert code == 0, err
    assert is_report(tmp_path / "x")
    assert not (tmp_path / "a").exists()


def test_out_as_a_link_to_an_empty_directory_writes_through_the_link(
    report_run, tmp_path, capsys
) -> None:
    data, _, _ = report_run
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    argv = ["report", "--data", data, "--target", "label", "--quick", "--students", "logistic"]
    code, _, err = _run([*argv, "--out", link], capsys)
    assert code == 0, err
    assert link.is_symlink() and is_report(real)


def test_out_as_a_dangling_link_is_refused_in_one_line(report_run, tmp_path, capsys) -> None:
    data, _, _ = report_run
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    argv = ["report", "--data", data, "--target", "label", "--quick", "--out", link]
    line = _one_error(*_run(argv, capsys)[::2])
    assert "symbolic link" in line and "does not exist" in line
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- killed writes
#: A single-threaded "zygote": it imports the library once, then forks one real child
#: process per job (save a report, or run the command) paused at a step. Forking from it
#: is safe (no threads) and fast (no import per child); the test kills the child by pid.
_ZYGOTE = """
import json, os, pickle, signal, sys
# Ctrl-C as a terminal delivers it, even when the suite was started as a background job
# (a shell without job control starts those with SIGINT ignored, and Python keeps that)
signal.signal(signal.SIGINT, signal.default_int_handler)
from interpretable_kd import cli
from interpretable_kd.report.writer import save_report
for line in sys.stdin:
    job = json.loads(line)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.close(read_end)
            os.dup2(write_end, 2)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.environ["INTERPRETABLE_KD_PAUSE_AT"] = job["step"]
            if job["argv"]:
                code = cli.main(job["argv"])
            else:
                save_report(pickle.loads(open(job["pickle"], "rb").read()), job["target"])
                code = 0
        except KeyboardInterrupt:
            code = 130
        finally:
            os._exit(code)
    os.close(write_end)
    child = os.fdopen(read_end)
    print(json.dumps({"pid": pid, "first": child.readline()}), flush=True)
    rest = child.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(json.dumps({"code": code, "err": rest}), flush=True)
"""


class _Zygote:
    def __init__(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env.pop("INTERPRETABLE_KD_PAUSE_AT", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def start(
        self,
        step: str,
        *,
        pickled: Path | None = None,
        target: Path | None = None,
        argv: list[str] | None = None,
    ) -> int:
        """Fork a child paused at ``step``; return its pid once it is paused."""
        job = {"step": step, "pickle": str(pickled), "target": str(target), "argv": argv}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert reply["first"].strip() == f"paused at {step}", reply
        return int(reply["pid"])

    def finish(self) -> tuple[int, str]:
        """The exit code (negative: killed by that signal) and stderr of the last child."""
        assert self.proc.stdout is not None
        reply = json.loads(self.proc.stdout.readline())
        return int(reply["code"]), str(reply["err"])


@pytest.fixture(scope="module")
def zygote():
    z = _Zygote()
    yield z
    z.proc.kill()
    z.proc.wait(timeout=30)


@pytest.mark.parametrize("step", ["staging", "staged", "aside", "placed"])
def test_sigkill_at_every_step_leaves_a_complete_report_and_the_next_run_recovers(
    step, report_run, tmp_path, zygote
) -> None:
    _, first, pickled = report_run
    target = _copy_report(first, tmp_path / "report")
    old = _snapshot(target)
    pid = zygote.start(step, pickled=pickled, target=target)
    os.kill(pid, signal.SIGKILL)
    assert zygote.finish()[0] == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.")]
    if step in ("staging", "staged"):
        assert _snapshot(target) == old  # the old report, untouched
    elif step == "aside":
        assert not target.exists()  # between the renames: the old report waits aside
        assert any(".old-" in name for name in leftovers)
    else:
        assert is_report(target) and _snapshot(target) != old  # the new one is in place
    assert leftovers  # the killed run left something behind...
    assert recover(target)  # ...which the next run undoes
    assert is_report(target)
    if step != "placed":
        assert _snapshot(target) == old
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_recovery_never_touches_the_leftovers_of_a_live_run(report_run, tmp_path, zygote):
    _, first, pickled = report_run
    target = _copy_report(first, tmp_path / "report")
    pid = zygote.start("aside", pickled=pickled, target=target)
    try:
        assert recover(target) == []  # the writer is alive: nothing is stale
        assert [p for p in tmp_path.iterdir() if ".old-" in p.name]
    finally:
        os.kill(pid, signal.SIGKILL)
        zygote.finish()
    recover(target)
    assert is_report(target)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(signame, report_run, tmp_path, zygote):
    data, first, _ = report_run
    target = _copy_report(first, tmp_path / "report")
    old = _snapshot(target)
    argv = ["report", "--data", str(data), "--target", "label", "--quick", "--students"]
    argv += ["logistic", "--out", str(target)]
    pid = zygote.start("staged", argv=argv)
    os.kill(pid, getattr(signal, signame))
    code, err = zygote.finish()
    assert code == (130 if signame == "SIGINT" else 128 + getattr(signal, signame)), err
    assert "Traceback" not in err
    assert "no report was written" in err and (signame in err or signame == "SIGINT")
    assert _snapshot(target) == old
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_save_report_api_refuses_a_folder_it_did_not_write(report_run, tmp_path) -> None:
    _, _, pickled = report_run
    report = pickle.loads(pickled.read_bytes())
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"schema_version": 1}')
    with pytest.raises(ReportError, match="no .interpretable-kd-report.json marker"):
        save_report(report, folder)
    with pytest.raises(ReportError, match="it is a file"):
        save_report(report, folder / "metrics.json")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json"]
