"""How many CPU threads each worker process gives torch (and ONNX Runtime) when WORKER_THREADS is unset.

Torch's default is one thread per physical core in every process. Workers that share a host then oversubscribe
it, and so does one worker beside any other busy process (the API, Redis, a training run): torch's threads wait
for each other at every operator, and an edit that takes 0.5 s alone took 1.2-11 s (`python -m bench --rows 9`).
The choice: the cores this process may run on, less one for the API and Redis, shared among the worker
processes, and at least one.
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0))


def chosen_threads(processes: int, cores: int | None = None) -> int:
    cores = available_cores() if cores is None else cores
    return max(1, (cores - 1) // max(processes, 1))
