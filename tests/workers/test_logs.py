"""Worker logs: an idle worker's maintenance says nothing, maintenance that cleans says what, and a job's logged
duration is measured (a batched job's includes the batch's compute)."""
from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace

import pytest
from redis import Redis
from rq.registry import FinishedJobRegistry
from rq.serializers import JSONSerializer

from contract import jobs, keys
from contract.payloads import Condition, ManipulatePayload
from tests.deployment import embedded_redis, make_settings
from workers import editing, runtime
from workers.batching import BatchingWorker, quiet_rq_durations

PAUSE_SECONDS = 0.3
DURATION = re.compile(r"job (\w+) \(manipulate\) finished in ([0-9.]+) s \(computed in a batch of 2\)")


@pytest.fixture()
def redis(tmp_path):
    server, url = embedded_redis(tmp_path)
    yield Redis.from_url(url)
    server.shutdown()


def a_worker(redis: Redis) -> BatchingWorker:
    queues = [jobs.queue(redis, name) for name in keys.QUEUES]
    return BatchingWorker(queues, connection=redis, serializer=JSONSerializer, maintenance_interval=1)


def test_idle_maintenance_logs_nothing_and_cleaning_says_what(redis, caplog):
    worker = a_worker(redis)
    with caplog.at_level(logging.INFO, logger="rq.worker"):
        for _ in range(6):  # a minute of maintenance at the workers' 10 s interval
            worker.run_maintenance_tasks()
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO] == []

    registry = FinishedJobRegistry(keys.MANIPULATE_QUEUE, connection=redis)
    redis.zadd(registry.key, {"expired-a": 1, "expired-b": 2})
    with caplog.at_level(logging.INFO, logger="rq.worker"):
        worker.run_maintenance_tasks()
    messages = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert messages == [f"maintenance of queue {keys.MANIPULATE_QUEUE}: 2 finished"]
    assert redis.zcard(registry.key) == 0


def test_a_batched_jobs_logged_duration_includes_the_batch(redis, monkeypatch, caplog):
    settings = make_settings("redis://unused", "unused", job_retries=0)
    payload = ManipulatePayload(upload=keys.upload("none"), conditions=[Condition("smiling", True)])
    job_ids = {jobs.enqueue(redis, settings, payload).id for _ in range(2)}

    def slow_edits(env, edits):
        time.sleep(PAUSE_SECONDS)
        return {edit.job_id: {"results": [], "batch_size": len(edits)} for edit in edits}

    stub = SimpleNamespace(redis=redis)
    monkeypatch.setattr(editing, "run_edits", slow_edits)
    monkeypatch.setattr(runtime, "_installed", stub)
    worker = a_worker(redis)
    worker.runtime, worker.batch_size = stub, 4
    quiet_rq_durations()
    with caplog.at_level(logging.INFO, logger="rq.worker"):
        worker.work(burst=True)
    messages = [record.getMessage() for record in caplog.records]
    logged = {match[1]: float(match[2]) for match in map(DURATION.search, messages) if match}
    assert set(logged) == job_ids
    assert min(logged.values()) >= PAUSE_SECONDS
    assert not [message for message in messages if "Successfully completed" in message]
