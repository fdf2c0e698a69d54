"""The RQ adapter on a real Redis: queueing a payload, the queue bound, status (with what a finished job returned),
waiting and results, with domain errors rather than HTTP ones."""
from __future__ import annotations

import asyncio
import json

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from contract import jobs, keys
from contract.errors import JobNotFinished, NoSuchJob, NoSuchResult, QueueFull
from contract.payloads import Condition, GeneratePayload, ManipulatePayload
from contract.settings import ApiSettings
from tests.deployment import embedded_redis


@pytest.fixture()
def served(tmp_path):
    server, url = embedded_redis(tmp_path)
    yield server, url
    server.shutdown()


@pytest.fixture()
def redis(served):
    return served[0]


async def waited(redis, url: str, job_id: str, seconds: float) -> jobs.JobState:
    async with AsyncRedis.from_url(url) as stream:
        return await jobs.wait(redis, stream, job_id, seconds)


def edit(redis, settings: ApiSettings) -> ManipulatePayload:
    upload = jobs.store_upload(redis, b"photo", settings)
    return ManipulatePayload(upload=upload, conditions=[Condition("smiling", True)])


def test_a_queued_job_carries_its_kind_task_and_json_arguments(redis):
    settings = ApiSettings(queue_limit=5)
    payload = GeneratePayload(conditions=[Condition("smiling", False)], count=3, seed=7)
    state = jobs.enqueue(redis, settings, payload)
    assert (state.kind, state.status, state.error, state.results, state.return_value) == (
        "generate", "queued", None, [], {})
    job = jobs.fetch(redis, state.id)
    assert job.func_name == "workers.tasks.generate" and job.origin == keys.GENERATE_QUEUE
    assert GeneratePayload.model_validate(job.kwargs) == payload
    assert jobs.waiting(redis, keys.GENERATE_QUEUE) == 1


def test_a_full_queue_refuses_and_drops_the_uploads(redis):
    settings = ApiSettings(queue_limit=1, queue_retry_after=9)
    jobs.enqueue(redis, settings, edit(redis, settings))
    refused = edit(redis, settings)
    with pytest.raises(QueueFull) as error:
        jobs.enqueue(redis, settings, refused)
    assert error.value.retry_after == 9 and "queue is full" in error.value.message
    assert redis.exists(refused.upload) == 0
    assert jobs.waiting(redis, keys.MANIPULATE_QUEUE) == 1


def test_unknown_jobs_and_unfinished_results_are_domain_errors(redis, served):
    with pytest.raises(NoSuchJob):
        jobs.status(redis, "no-such-job")
    settings = ApiSettings()
    state = jobs.enqueue(redis, settings, edit(redis, settings))
    with pytest.raises(JobNotFinished, match="is queued"):
        jobs.result(redis, state.id, 0)
    assert asyncio.run(waited(redis, served[1], state.id, 0.05)).status == "queued"


def test_results_of_a_finished_job_by_index(redis):
    key = keys.result("finished-job", 0)
    redis.set(key, b"png")
    queue = jobs.queue(redis, keys.GENERATE_QUEUE)
    # a job whose return value names one stored result, as a worker's would, run by a real RQ worker
    returned = {"results": [key], "batch_size": 1, "faces": [{"box": [1, 2, 3, 4], "changed": True}]}
    queue.enqueue("json.loads", args=[json.dumps(returned)], job_id="finished-job")
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    state = jobs.status(redis, "finished-job")
    assert state.status == "finished" and state.results == [key] and state.return_value == returned
    assert jobs.result(redis, "finished-job", 0) == b"png"
    with pytest.raises(NoSuchResult, match="has 1 results"):
        jobs.result(redis, "finished-job", 1)
    redis.delete(key)
    with pytest.raises(NoSuchResult, match="expired"):
        jobs.result(redis, "finished-job", 0)


def test_an_unreachable_redis_is_an_outage_never_no_such_job(served):
    server, url = served
    state = jobs.enqueue(server, ApiSettings(), GeneratePayload(conditions=[], count=1))
    client = Redis.from_url(url)
    assert jobs.status(client, state.id).status == "queued"
    server.shutdown()
    with pytest.raises(RedisError):
        jobs.status(client, state.id)
    with pytest.raises(RedisError):
        jobs.result(client, state.id, 0)
