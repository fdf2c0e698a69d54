"""Row 2: the worker's edit path on ONNX Runtime vs torch eager, at batch 1 and 16.

The path is the workers' own (workers.tasks.run_edits on a workers.runtime.Runtime): read and decode the PNG
upload from Redis, crop, encode, edit with the attribute's tuned defaults, decode, paste, encode and store the PNG.
"""
from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path

from bench.deployment import embedded_redis
from bench.table import Row, Target, not_measured
from bench.timing import median_seconds
from service import keys
from service.settings import Settings
from workers import runtime, tasks

BATCHES = (1, 16)
TARGETS = {1: Target(">=", 1.5), 16: None}


def edit_seconds(bench, backend: str, redis, redis_url: str) -> dict[int, float]:
    """Median seconds of run_edits per batch size on a worker runtime with this backend."""
    workload = bench.workload
    settings = Settings(redis_url=redis_url, checkpoint=str(workload.checkpoint), worker_threads=bench.threads)
    runtime.install(runtime.Runtime(settings, redis, bench.device, backend))
    seconds = {}
    for size in BATCHES:
        uploads = []
        for photo in workload.photos(size):
            uploads.append(keys.upload(uuid.uuid4().hex))
            redis.set(uploads[-1], photo)
        edits = [tasks.Edit(f"bench-{index}", key, [[workload.attribute, True]], 1.0, 0, "none") for index, key in enumerate(uploads)]
        seconds[size], outcomes = median_seconds(partial(tasks.run_edits, edits), repeats=bench.size(7, 1), device=bench.device)
        failed = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
        if failed:
            raise RuntimeError(f"{backend} edits failed: {failed[0]}")
    return seconds


def measure(bench) -> list[Row]:
    names = {size: f"worker edit path, ONNX Runtime vs torch eager, batch {size} (speed-up)" for size in BATCHES}
    onnx_dir = Path(bench.workload.checkpoint) / "onnx"
    if not (onnx_dir / "denoiser.onnx").is_file():
        reason = f"no ONNX export at {onnx_dir}: run python -m model.export --checkpoint {bench.workload.checkpoint}"
        return [not_measured(f"2{letter}", names[size], TARGETS[size], reason) for letter, size in zip("ab", BATCHES)]
    with embedded_redis() as (redis, redis_url):
        torch_seconds = edit_seconds(bench, "torch", redis, redis_url)
        onnx_seconds = edit_seconds(bench, "onnx", redis, redis_url)
    note = (f"{bench.workload.source}, crop=none, {bench.workload.mode} mode, attr {bench.workload.attribute}; "
            f"{bench.threads} thread(s) for torch and ONNX Runtime")
    return [Row(f"2{letter}", names[size],
                f"torch {torch_seconds[size] * 1e3:.0f} ms, ONNX {onnx_seconds[size] * 1e3:.0f} ms per batch",
                torch_seconds[size] / onnx_seconds[size], target=TARGETS[size], note=note)
            for letter, size in zip("ab", BATCHES)]
