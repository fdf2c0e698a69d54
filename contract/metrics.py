"""Job metrics held in Redis, so the numbers cover every worker and API replica.

Workers add each job's latency to a Redis-held histogram and keep a liveness key; the API reads both at
scrape time (`service.metrics`).
"""
from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from contract import keys

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, jobs at most that long)
    count: int
    total_seconds: float


def record_job_seconds(redis: Redis, kind: str, seconds: float) -> None:
    key = keys.job_latency(kind)
    with redis.pipeline() as pipe:
        for bound in BUCKETS:
            if seconds <= bound:
                pipe.hincrby(key, f"le:{bound}", 1)
        pipe.hincrby(key, "count", 1)
        pipe.hincrbyfloat(key, "sum", seconds)
        pipe.execute()


def job_seconds(redis: Redis, kind: str) -> Histogram:
    stored = {key.decode(): value for key, value in redis.hgetall(keys.job_latency(kind)).items()}
    buckets = [(bound, int(stored.get(f"le:{bound}", 0))) for bound in BUCKETS]
    return Histogram(buckets, int(stored.get("count", 0)), float(stored.get("sum", 0.0)))


def live_workers(redis: Redis) -> int:
    return sum(1 for _ in redis.scan_iter(match=keys.LIVE_WORKER_PATTERN, count=100))
