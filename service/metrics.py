"""The Prometheus collector that reads the job metrics from Redis at scrape time."""
from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from redis import Redis

from contract import jobs, keys
from contract.metrics import job_seconds, live_workers
from contract.payloads import KINDS


class RedisStateCollector:
    """Job latency histogram, queue depth and live workers, all read from Redis."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def collect(self):
        latency = HistogramMetricFamily("d2c_job_seconds", "Job latency from enqueue to done, by job kind",
                                        labels=["kind"])
        for kind in KINDS:
            histogram = job_seconds(self.redis, kind)
            buckets = [(str(bound), count) for bound, count in histogram.buckets] + [("+Inf", histogram.count)]
            latency.add_metric([kind], buckets, histogram.total_seconds)
        yield latency
        depth = GaugeMetricFamily("d2c_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        for name in keys.QUEUES:
            depth.add_metric([name], jobs.waiting(self.redis, name))
        yield depth
        yield GaugeMetricFamily("d2c_live_workers", "Workers with models loaded and a fresh heartbeat",
                                value=live_workers(self.redis))
