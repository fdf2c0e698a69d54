"""Worker behaviour on a Redis of its own: readiness before and after start, retry after a worker died,
failed jobs when no retries are left, and micro-batching of waiting manipulate jobs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from fastapi.testclient import TestClient
from rq import SimpleWorker
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from contract import jobs, keys
from service.main import create_app
from tests.api_calls import poll, queue_edit
from tests.deployment import (
    ROOT,
    embedded_redis,
    make_settings,
    publish_builtins,
    start_worker,
    stop_worker,
    worker_child,
    worker_environment,
)
from workers.batching import BatchingWorker
from workers.errors import STARTUP_FAILED

FAR_FUTURE = 4_000_000_000  # a cleanup timestamp past every heartbeat: the taken job counts as abandoned


@pytest.fixture()
def fresh(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    settings = make_settings(url, checkpoint)
    app = create_app(settings)
    with TestClient(app) as client:
        yield settings, app.state.redis, client
    server.shutdown()


def abandon_next_job(redis) -> None:
    """Take the next manipulate job like a worker would, then 'die' without finishing it."""
    queue = jobs.queue(redis, keys.MANIPULATE_QUEUE)
    taker = SimpleWorker([queue], connection=redis, serializer=JSONSerializer)
    job, _ = taker.dequeue_job_and_maintain_ttl(timeout=1)
    taker.prepare_execution(job)
    taker.prepare_job_execution(job)
    StartedJobRegistry(queue=queue).cleanup(timestamp=FAR_FUTURE)


def test_ready_only_once_a_worker_has_its_model_and_abandoned_jobs_are_retried(fresh):
    settings, redis, client = fresh
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "no worker" in not_ready.json()["detail"]
    publish_builtins(settings, redis)
    job_id = queue_edit(client)
    abandon_next_job(redis)
    assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"  # requeued: it had a retry left
    worker = start_worker(settings, redis)
    try:
        assert client.get("/readyz").status_code == 200
        assert poll(client, job_id)["status"] == "finished"
    finally:
        stop_worker(worker)


def test_without_retries_a_dead_workers_job_is_failed_and_says_why(fresh):
    settings, redis, client = fresh
    publish_builtins(settings, redis)
    client.app.state.settings = make_settings(settings.redis_url, settings.checkpoint, job_retries=0)
    job_id = queue_edit(client)
    abandon_next_job(redis)
    status = client.get(f"/jobs/{job_id}").json()
    assert status["status"] == "failed" and "worker died" in status["error"]


def test_waiting_manipulate_jobs_run_as_one_batch(fresh):
    settings, redis, client = fresh
    publish_builtins(settings, redis)
    job_ids = [queue_edit(client, seed) for seed in range(settings.batch_size)]
    worker = start_worker(settings, redis)
    try:
        finished = [poll(client, job_id) for job_id in job_ids]
    finally:
        stop_worker(worker)
    assert all(status["status"] == "finished" for status in finished)
    batch_sizes = [jobs.fetch(redis, job_id).return_value()["batch_size"] for job_id in job_ids]
    assert batch_sizes == [settings.batch_size] * settings.batch_size


def test_jobs_claimed_for_a_batch_are_never_in_no_list(fresh):
    settings, redis, client = fresh
    publish_builtins(settings, redis)
    job_ids = [queue_edit(client, seed) for seed in range(3)]
    queue = jobs.queue(redis, keys.MANIPULATE_QUEUE)
    claimer = BatchingWorker([queue], connection=redis, serializer=JSONSerializer)
    # claimed, then the worker "dies" before registering them: they wait in RQ's intermediate list
    assert [job.id for job in claimer.claim_waiting(queue, 2)] == job_ids[:2]
    assert queue.get_job_ids() == job_ids[2:]
    assert queue.intermediate_queue.get_job_ids() == job_ids[:2]
    # registering moves a claimed job into the started registry and out of the intermediate list in one step
    [last] = claimer.claim_waiting(queue, 5)
    claimer.register_started(last, queue)
    assert queue.intermediate_queue.get_job_ids() == job_ids[:2]
    assert StartedJobRegistry(queue=queue).get_job_ids() == [last.id]
    assert jobs.fetch(redis, last.id).get_status() == "started"  # RQ's cleanup retries only started jobs
    # RQ's maintenance notes stranded ids on one pass and retries them on a pass a minute later
    sweeper = SimpleWorker([queue], connection=redis, serializer=JSONSerializer)
    queue.intermediate_queue.cleanup(sweeper, queue)
    for job_id in job_ids[:2]:
        redis.set(queue.intermediate_queue.get_first_seen_key(job_id), time.time() - 120)
    queue.intermediate_queue.cleanup(sweeper, queue)
    assert queue.intermediate_queue.get_job_ids() == []
    assert queue.get_job_ids() == job_ids[:2]
    assert [jobs.fetch(redis, job_id).retries_left for job_id in job_ids[:2]] == [0, 0]


def live_names(redis) -> set[str]:
    return {key.decode() for key in redis.scan_iter(match=keys.LIVE_WORKER_PATTERN)}


def test_a_worker_process_that_dies_is_replaced(fresh):
    settings, redis, client = fresh
    supervisor = start_worker(settings, redis)
    try:
        first = live_names(redis)
        os.kill(worker_child(supervisor), signal.SIGKILL)
        deadline = time.monotonic() + 180
        while not live_names(redis) - first:
            assert time.monotonic() < deadline, "no replacement worker came up"
            time.sleep(0.5)
        assert supervisor.poll() is None
        assert client.get("/readyz").status_code == 200
    finally:
        stop_worker(supervisor)


@pytest.mark.parametrize("arguments, broken", [
    (["--count", "1"], "checkpoint"),
    (["--count", "1", "--backend", "onnx"], "onnx"),  # the tiny checkpoint has no onnx/ folder
    (["--count", "1", "--device", "cuda"], "cuda"),
])
def test_workers_refuse_to_start_without_what_they_need(settings, tmp_path, arguments, broken):
    if broken == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    checkpoint = tmp_path / "missing" if broken == "checkpoint" else settings.checkpoint
    env = worker_environment(make_settings(settings.redis_url, checkpoint))
    result = subprocess.run([sys.executable, "-m", "workers", *arguments], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == STARTUP_FAILED, result.stderr
    assert "cannot start" in result.stderr
