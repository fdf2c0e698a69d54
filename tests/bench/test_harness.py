"""Smoke test of `python -m bench --quick`: every row that needs no real data yields a numeric ratio and its target;
rows that need the real faces or oracle say so. Asserts the table's shape, never a timing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import build_tiny_checkpoint
from model.onnx import export

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {
    "1": ">= 600x",
    "2a": ">= 1.5x",
    "2b": "none set",
    "3": ">= 3x",
    "4": ">= 0.8x",
    "5": "<= 1.3x",
    "6": "<= 2 s",
    "6c": "none set",
    "9": "none set",
}
NEED_REAL_DATA = {"7", "8a", "8b", "8c", "8d"}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> str:
    """results.md of a quick run of every row on a tiny random checkpoint with its ONNX export, no faces or oracle."""
    directory = tmp_path_factory.mktemp("bench")
    checkpoint = build_tiny_checkpoint(directory / "checkpoint")
    export(checkpoint)
    out = directory / "results.md"
    command = [
        sys.executable,
        "-m",
        "bench",
        "--quick",
        "--checkpoint",
        str(checkpoint),
        "--data",
        str(directory / "no-faces"),
        "--oracle",
        str(directory / "no-oracle"),
        "--out",
        str(out),
    ]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert out.read_text().split("\n\n")[-1].strip() in finished.stdout  # the printed table is the written one
    return out.read_text()


def table_rows(document: str) -> dict[str, dict[str, str]]:
    lines = [line for line in document.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]
    return {row["#"]: row for row in rows}


def test_rows_without_real_data_have_numeric_ratios_and_their_targets(results):
    rows = table_rows(results)
    for key, target in TARGETS.items():
        assert key in rows, f"row {key} missing from the table"
        assert re.fullmatch(r"[0-9.]+(x| s)", rows[key]["ratio"]), (
            f"row {key}: ratio {rows[key]['ratio']!r} is not a number"
        )
        assert float(re.match(r"[0-9.]+", rows[key]["ratio"]).group()) > 0
        assert rows[key]["target"] == target
        assert rows[key]["verdict"] in (("no target",) if target == "none set" else ("met", "not met"))


def test_rows_needing_real_faces_or_the_oracle_say_they_are_absent(results):
    rows = table_rows(results)
    for key in NEED_REAL_DATA:
        assert rows[key]["verdict"] == "not measured"
        assert "absent" in rows[key]["note"]


def test_results_record_when_where_and_how(results):
    assert re.search(r"- date: \d{4}-\d{2}-\d{2}", results)
    assert re.search(r"- machine: \d+ CPUs \(nproc\).*\d+ intra-op thread", results)
    assert re.search(r"- command: `.*python[0-9.]* -m bench --quick", results)
