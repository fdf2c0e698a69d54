"""Prometheus collectors that read Redis at scrape time, so numbers cover every worker and API replica.

Workers add each job's latency to a Redis-held histogram (`record_job_seconds`); the API's collector
turns it, the queue depths and the live-worker count into metrics.
"""
from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from redis import Redis
from service import keys
from service.jobs import queue

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
KINDS = ("manipulate", "attribute", "generate")


def record_job_seconds(redis: Redis, kind: str, seconds: float) -> None:
    key = keys.job_latency(kind)
    with redis.pipeline() as pipe:
        for bound in BUCKETS:
            if seconds <= bound:
                pipe.hincrby(key, f"le:{bound}", 1)
        pipe.hincrby(key, "count", 1)
        pipe.hincrbyfloat(key, "sum", seconds)
        pipe.execute()


def live_workers(redis: Redis) -> int:
    return sum(1 for _ in redis.scan_iter(match=keys.LIVE_WORKER_PATTERN, count=100))


class RedisStateCollector:
    """Job latency histogram, queue depth and live workers, all read from Redis."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def collect(self):
        latency = HistogramMetricFamily("d2c_job_seconds", "Job latency from enqueue to done, by job kind", labels=["kind"])
        for kind in KINDS:
            stored = {key.decode(): value for key, value in self.redis.hgetall(keys.job_latency(kind)).items()}
            count = int(stored.get("count", 0))
            buckets = [(str(bound), int(stored.get(f"le:{bound}", 0))) for bound in BUCKETS] + [("+Inf", count)]
            latency.add_metric([kind], buckets, float(stored.get("sum", 0.0)))
        yield latency
        depth = GaugeMetricFamily("d2c_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        for name in keys.QUEUES:
            depth.add_metric([name], queue(self.redis, name).count)
        yield depth
        yield GaugeMetricFamily("d2c_live_workers", "Workers with models loaded and a fresh heartbeat", value=live_workers(self.redis))
