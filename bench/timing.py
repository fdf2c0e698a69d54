"""Timing helpers: warm up, then the median of repeats, measured with time.perf_counter."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so a timer reads compute time rather than launch time."""
    if str(device).startswith("cuda"):
        import torch  # here, so that bench.load can drive a remote deployment without torch installed

        torch.cuda.synchronize()


def timed(function: Callable[[], Result], device: str = "cpu") -> tuple[float, Result]:
    """Wall time of one call of `function`, and its result."""
    synchronize(device)
    started = time.perf_counter()
    result = function()
    synchronize(device)
    return time.perf_counter() - started, result


def median_seconds(
    function: Callable[[], Result], repeats: int = 5, warmup: int = 1, device: str = "cpu"
) -> tuple[float, Result]:
    """Median wall time of `function` over `repeats` calls after `warmup` untimed ones, and its last result."""
    for _ in range(warmup):
        function()
    runs = [timed(function, device) for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0.5 = median) of `values`, interpolated; NaN when there are none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]
