"""python -m bench: the performance harness of issue 6. Measures every row in one run on this machine, prints the
markdown table and writes it, with the date, machine and command, to bench/results.md.

    .venv/bin/python -m bench                       # every row, the shipped checkpoint and real faces (slow)
    .venv/bin/python -m bench --rows 2,5 --quick    # a subset, tiny sizes
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import torch

from bench import attribute, backends, inversion, micro_batching, quality, service, thread_choice, training
from bench.context import Bench
from bench.table import Row, document, machine, markdown, not_measured
from bench.workload import Workload

ROWS = {  # issue row -> what measures it
    1: inversion.measure,
    2: backends.measure,
    3: micro_batching.measure,
    4: service.measure_throughput,
    5: service.measure_latency,
    6: attribute.measure,
    7: quality.measure,
    8: training.measure,
    9: thread_choice.measure,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/celeba64")
    parser.add_argument(
        "--data", default="../shared/data/celeba64", help="celeba64 faces: real inputs, and rows 7-8 need them"
    )
    parser.add_argument("--oracle", default="checkpoints/oracle-celeba64", help="attribute oracle for row 7")
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda, for the model in this process, the workers and training"
    )
    parser.add_argument("--rows", default=",".join(map(str, ROWS)), help="comma-separated rows to run, e.g. 2,5")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and one repeat: a smoke test, not a measurement"
    )
    parser.add_argument("--images", type=int, default=200, help="test faces per attribute for row 7")
    parser.add_argument("--threads", type=int, default=1, help="torch (and ONNX Runtime) threads per process")
    parser.add_argument("--attr", default="smiling", help="the built-in attribute every edit asks for")
    parser.add_argument("--context", default="", help="a line on the conditions of the run, written into results.md")
    parser.add_argument("--out", default="bench/results.md")
    args = parser.parse_args(argv)
    args.rows = [int(row) for row in args.rows.split(",")]
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; rows are {', '.join(map(str, ROWS))}")
    return args


def run_row(number: int, bench: Bench) -> list[Row]:
    """The row's measurements, or one row saying why it failed: one broken row must not cost the others."""
    started = time.perf_counter()
    try:
        rows = ROWS[number](bench)
    except Exception as error:  # noqa: BLE001 - one broken row must not cost the others
        traceback.print_exc()
        rows = [
            not_measured(
                str(number),
                ROWS[number].__module__.removeprefix("bench."),
                None,
                f"failed: {type(error).__name__}: {error}",
            )
        ]
    print(f"row {number}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def command_line(argv: list[str] | None) -> str:
    """How this run was started, as one could type it again (with its niceness, which the timings depend on)."""
    python = Path(sys.executable)
    python = python.relative_to(Path.cwd()) if python.is_relative_to(Path.cwd()) else python
    niceness = os.nice(0)
    return (f"nice -n {niceness} " if niceness else "") + shlex.join(
        [str(python), "-m", "bench", *(sys.argv[1:] if argv is None else argv)]
    )


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started, clock = datetime.now(), time.perf_counter()
    described = machine()
    workload = Workload(Path(args.checkpoint), Path(args.data), args.device, args.attr)
    with ExitStack() as cleanup:
        bench = Bench(args, workload, cleanup)
        rows = [row for number in args.rows for row in run_row(number, bench)]
    table = markdown(rows)
    Path(args.out).write_text(
        document(table, command_line(argv), started, time.perf_counter() - clock, described, args.context)
    )
    print(table, flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(1 if any(row.note.startswith("failed:") for row in main()) else 0)
