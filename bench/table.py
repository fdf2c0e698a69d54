"""The results table: one row per measured ratio, with its target and verdict, rendered as markdown."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch


@dataclass(frozen=True)
class Target:
    relation: str  # ">=" or "<="
    value: float
    unit: str = "x"

    def met_by(self, ratio: float) -> bool:
        return ratio >= self.value if self.relation == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{self.relation} {self.value:g}{self.unit}"


@dataclass
class Row:
    key: str  # "1", "2a", ...: the row number, a letter when a row has several ratios
    measurement: str
    figures: str = "—"
    ratio: float | None = None
    unit: str = "x"
    target: Target | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "not measured"
        if self.target is None:
            return "no target"
        return "met" if self.target.met_by(self.ratio) else "not met"


def not_measured(key: str, measurement: str, target: Target | None, reason: str) -> Row:
    """A row whose inputs are missing or whose measurement failed: says why instead of a number."""
    return Row(key, measurement, target=target, note=reason)


def format_ratio(ratio: float | None, unit: str) -> str:
    if ratio is None:
        return "—"
    return (f"{ratio:.0f}" if abs(ratio) >= 100 else f"{ratio:.2f}") + unit


def markdown(rows: list[Row]) -> str:
    lines = [
        "| # | measurement | figures | ratio | target | verdict | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [
            row.key,
            row.measurement,
            row.figures,
            format_ratio(row.ratio, row.unit),
            str(row.target) if row.target else "none set",
            row.verdict,
            row.note,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "/").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    """What `nproc` reports, the CPU model, torch's version and its intra-op threads in this process."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{len(os.sched_getaffinity(0))} CPUs (nproc) of {model or platform.machine()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} intra-op thread(s) per process; load average {os.getloadavg()[0]:.1f} at start"
    )


def document(table: str, command: str, started: datetime, seconds: float, machine: str, context: str) -> str:
    """bench/results.md: when, where and how the table was measured, then the table."""
    lines = [
        "# Performance harness results (issue 6)",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} (local time)",
        f"- machine: {machine}",
        f"- command: `{command}`",
        f"- total runtime: {seconds / 60:.1f} min",
    ]
    if context:
        lines.append(f"- conditions: {context}")
    lines += [
        "",
        ("Ratios, not absolute times, are what count; "
         "every time is a median after a warm-up unless the row says otherwise."),
        "",
        table,
        "",
    ]
    return "\n".join(lines)
