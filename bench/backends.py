"""Row 2: the worker's edit path on ONNX Runtime vs torch eager, at batch 1 and 16.

The path is the workers' own (workers.editing.run_edits on a workers.runtime.Runtime): read and decode the PNG
upload from Redis, crop, encode, edit with the attribute's tuned defaults, decode, paste, encode and store the PNG.
The two backends take turns, repeat after repeat, so that a change in the machine's load hits both alike.
"""

from __future__ import annotations

import statistics
from functools import partial
from pathlib import Path

from bench.deployment import embedded_redis
from bench.table import Row, Target, not_measured
from bench.timing import timed
from contract import jobs
from contract.payloads import Condition, ManipulatePayload
from contract.settings import Settings
from model.checkpoint import ONNX_DIR
from workers import editing, runtime

BACKENDS = ("torch", "onnx")
BATCHES = (1, 16)
TARGETS = {1: Target(">=", 1.5), 16: None}


def uploaded_edits(bench, redis, settings: Settings, size: int) -> list[editing.Edit]:
    """`size` edits of photos stored in Redis by the API's own upload code."""
    condition = [Condition(bench.workload.attribute, True)]
    return [
        editing.Edit(
            f"bench-{index}",
            ManipulatePayload(upload=jobs.store_upload(redis, photo, settings), conditions=condition, crop="none"),
        )
        for index, photo in enumerate(bench.workload.photos(size))
    ]


def run_edits_on(worker: runtime.Runtime, edits: list[editing.Edit]) -> None:
    failed = [outcome for outcome in editing.run_edits(worker, edits).values() if isinstance(outcome, Exception)]
    if failed:
        raise RuntimeError(f"an edit failed: {failed[0]}")


def measure(bench) -> list[Row]:
    names = {size: f"worker edit path, ONNX Runtime vs torch eager, batch {size} (speed-up)" for size in BATCHES}
    onnx_dir = Path(bench.workload.checkpoint) / ONNX_DIR
    if not (onnx_dir / "denoiser.onnx").is_file():
        reason = (
            f"no ONNX export at {onnx_dir}: run python -m pipelines.export --checkpoint {bench.workload.checkpoint}"
        )
        return [not_measured(f"2{letter}", names[size], TARGETS[size], reason) for letter, size in zip("ab", BATCHES)]
    seconds = {}
    with embedded_redis() as (redis, redis_url):
        settings = Settings(
            redis_url=redis_url, checkpoint=str(bench.workload.checkpoint), worker_threads=bench.threads
        )
        workers = {backend: runtime.Runtime(settings, redis, bench.device, backend) for backend in BACKENDS}
        for size in BATCHES:
            edits = uploaded_edits(bench, redis, settings, size)
            runs = {backend: [] for backend in BACKENDS}
            for repeat in range(bench.size(21 if size == 1 else 7, 1) + 1):
                for backend, worker in workers.items():
                    elapsed, _ = timed(partial(run_edits_on, worker, edits), bench.device)
                    runs[backend] += [elapsed] if repeat else []  # the first round is a warm-up
            seconds.update({(backend, size): statistics.median(runs[backend]) for backend in BACKENDS})
    note = (
        f"{bench.workload.source}, crop=none, {bench.workload.mode} mode, attr {bench.workload.attribute}; "
        f"{bench.threads} thread(s) for torch and ONNX Runtime; backends alternate, median of their runs"
    )
    return [
        Row(
            f"2{letter}",
            names[size],
            f"torch {seconds['torch', size] * 1e3:.0f} ms, ONNX {seconds['onnx', size] * 1e3:.0f} ms per batch",
            seconds["torch", size] / seconds["onnx", size],
            target=TARGETS[size],
            note=note,
        )
        for letter, size in zip("ab", BATCHES)
    ]
