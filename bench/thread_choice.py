"""Row 9: edit latency beside a competing CPU-busy process, with torch's default thread count and with the workers'
choice (`workers.threads.chosen_threads`, what a worker takes when WORKER_THREADS is unset).

Torch's default is one thread per physical core; beside any other busy process its threads wait for each other at
every operator and single edits stall. The edit is the workers' own path at batch 1 (read the PNG upload from
Redis, crop, encode, edit, decode, paste, store the PNG), in this process; one `python -c "while True: pass"` runs
beside it throughout. The two settings take turns, repeat after repeat, so a change in the machine's load hits both.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from functools import partial

import torch

from bench.backends import run_edits_on, uploaded_edits
from bench.deployment import embedded_redis
from bench.table import Row
from bench.timing import percentile, timed
from contract.settings import Settings
from workers import runtime
from workers.threads import chosen_threads


def torch_default_threads() -> int:
    """What a fresh worker process gets from torch when WORKER_THREADS is 0."""
    probe = [sys.executable, "-c", "import torch; print(torch.get_num_threads())"]
    return int(subprocess.run(probe, capture_output=True, text=True, timeout=300, check=True).stdout)


def measure(bench) -> list[Row]:
    settings_threads = {"default": torch_default_threads(), "chosen": chosen_threads(1)}
    runs: dict[str, list[float]] = {name: [] for name in settings_threads}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with embedded_redis() as (redis, redis_url):
            settings = Settings(redis_url=redis_url, checkpoint=str(bench.workload.checkpoint))
            worker = runtime.Runtime(settings, redis, bench.device)
            edits = uploaded_edits(bench, redis, settings, 1)
            for repeat in range(bench.size(20, 3) + 1):
                for name, threads in settings_threads.items():
                    torch.set_num_threads(threads)
                    elapsed, _ = timed(partial(run_edits_on, worker, edits), bench.device)
                    runs[name] += [elapsed] if repeat else []  # the first round is a warm-up
    finally:
        busy.kill()
        busy.wait()
        torch.set_num_threads(bench.threads)
    p50 = {name: statistics.median(seconds) for name, seconds in runs.items()}
    p95 = {name: percentile(seconds, 0.95) for name, seconds in runs.items()}
    figures = "; ".join(
        f"{name} ({settings_threads[name]} thread{'s' if settings_threads[name] > 1 else ''}): "
        f"p50 {p50[name] * 1e3:.0f} ms, p95 {p95[name] * 1e3:.0f} ms"
        for name in settings_threads
    )
    same = settings_threads["default"] == settings_threads["chosen"]
    note = (
        f"{bench.workload.source}, crop=none, attr {bench.workload.attribute}, batch 1, {len(runs['chosen'])} edits "
        f"per setting, alternating, beside one busy process; chosen = (cores - 1) // 1 worker, at least 1"
        + ("; both settings are the same thread count on this machine" if same else "")
    )
    return [
        Row(
            "9",
            "edit latency beside a busy process, p95 with torch's default threads / p95 with the workers' choice",
            figures,
            p95["default"] / p95["chosen"],
            note=note,
        )
    ]
