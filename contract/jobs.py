"""The one RQ adapter: queue a typed payload, read a job's status, wait for it, read its results.

Arguments are JSON only (Redis keys of uploaded bytes and plain values). Refusals are domain errors
(`contract.errors`); the API maps them to HTTP statuses.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from redis import Redis, WatchError
from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from contract import keys
from contract.errors import JobNotFinished, NoSuchJob, NoSuchResult, QueueFull
from contract.payloads import JobPayload
from contract.settings import ApiSettings

PUBLIC_STATUS = {
    JobStatus.QUEUED: "queued", JobStatus.DEFERRED: "queued", JobStatus.SCHEDULED: "queued",
    JobStatus.STARTED: "started", JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed", JobStatus.STOPPED: "failed", JobStatus.CANCELED: "failed",
}
DONE = ("finished", "failed")
WORKER_DIED = "a worker died while running this job and it has no retries left"
RECHECK_SECONDS = 1.0  # a wait re-reads the status at least this often, should an end come without a result entry


@dataclass(frozen=True)
class JobState:
    """What a client may know about a job."""

    id: str
    kind: str | None
    status: str  # queued, started, finished or failed
    error: str | None
    error_status: int  # the HTTP status the job's failure is answered with (?wait=)
    results: list[str]  # Redis keys of its PNGs
    return_value: dict  # what the finished job returned (a manipulate job's `faces`, ...); empty until it finishes
    created_at: datetime | None
    ended_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in DONE


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis, serializer=JSONSerializer)


def waiting(redis: Redis, queue_name: str) -> int:
    return queue(redis, queue_name).count


def new_job_id() -> str:
    return uuid.uuid4().hex


def store_upload(redis: Redis, data: bytes, settings: ApiSettings) -> str:
    key = keys.upload(uuid.uuid4().hex)
    redis.set(key, data, ex=settings.upload_ttl)
    return key


def _refuse(redis: Redis, settings: ApiSettings, payload: JobPayload) -> QueueFull:
    """The refusal of a full queue; the job's uploads are dropped at once rather than left to their TTL."""
    if payload.upload_keys():
        redis.delete(*payload.upload_keys())
    return QueueFull(payload.QUEUE, settings.queue_limit, settings.queue_retry_after)


def _job_options(settings: ApiSettings, payload: JobPayload) -> dict:
    return {"kwargs": payload.arguments(), "meta": {"kind": payload.KIND}, "job_timeout": settings.job_timeout,
            "result_ttl": settings.result_ttl, "failure_ttl": settings.failed_ttl,
            "retry": Retry(max=settings.job_retries) if settings.job_retries else None}


def enqueue(redis: Redis, settings: ApiSettings, payload: JobPayload, job_id: str | None = None) -> JobState:
    """Queue a job unless `settings.queue_limit` jobs already wait; the bound holds under concurrent requests."""
    target = queue(redis, payload.QUEUE)
    if target.count >= settings.queue_limit:
        raise _refuse(redis, settings, payload)
    job = target.enqueue(payload.TASK, job_id=job_id or new_job_id(), **_job_options(settings, payload))
    # requests racing past the check above: a job pushed beyond the bound withdraws itself, so the first
    # `queue_limit` stay whatever the interleaving (LPOS gives None, LREM 0, when a worker already took it; it runs)
    position = redis.lpos(target.key, job.id)
    if position is not None and position >= settings.queue_limit and redis.lrem(target.key, 1, job.id):
        job.delete()
        raise _refuse(redis, settings, payload)
    return state_of(job)


def enqueue_with(redis: Redis, settings: ApiSettings, payload: JobPayload, job_id: str, watched: list[str],
                 write: Callable[[Pipeline], Callable[[Pipeline], None]]) -> JobState:
    """Queue a job and make other writes in one transaction, or do neither: a refused job changes nothing.

    `write(pipe)` may read (the queue and the `watched` keys are watched) and returns what queues its writes; a
    change to a watched key in between runs it again. The queue bound is exact here (the queue is watched).
    """
    target = queue(redis, payload.QUEUE)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(target.key, *watched)
                if pipe.llen(target.key) >= settings.queue_limit:
                    pipe.reset()
                    raise _refuse(redis, settings, payload)
                writes = write(pipe)
                pipe.multi()
                job = target.enqueue(payload.TASK, job_id=job_id, pipeline=pipe, **_job_options(settings, payload))
                writes(pipe)
                pipe.execute()
                return state_of(job)
            except WatchError:
                continue


def fetch(redis: Redis, job_id: str) -> Job:
    try:
        return Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    except RedisError:  # Redis unreachable: the job may well exist, so never "no such job"
        raise
    except Exception as error:  # rq raises NoSuchJobError, or a decoding error for a foreign key
        raise NoSuchJob(job_id) from error


def public_status(job: Job) -> str:
    return PUBLIC_STATUS.get(job.get_status(refresh=False), "queued")


def return_value(job: Job) -> dict:
    value = job.return_value() if public_status(job) == "finished" else None
    return value if isinstance(value, dict) else {}


def result_keys(job: Job) -> list[str]:
    return list(return_value(job).get("results", []))


def error_message(job: Job) -> str | None:
    if public_status(job) != "failed":
        return None
    if job.meta.get("error"):
        return job.meta["error"]
    result = job.latest_result()
    text = (result.exc_string if result else "") or ""
    if "AbandonedJobError" in text:
        return WORKER_DIED
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the job failed"


def state_of(job: Job) -> JobState:
    value = return_value(job)  # read once: each read is a Redis round trip
    return JobState(
        id=job.id, kind=job.meta.get("kind"), status=public_status(job), error=error_message(job),
        error_status=int(job.meta.get("error_status", 500)), results=list(value.get("results", [])),
        return_value=value, created_at=job.created_at, ended_at=job.ended_at,
    )


def status(redis: Redis, job_id: str) -> JobState:
    return state_of(fetch(redis, job_id))


def _done(raw_status: bytes | None) -> bool:
    """From the job hash's status field; a vanished job counts as done (its final read says what happened)."""
    if raw_status is None:
        return True
    try:
        return PUBLIC_STATUS.get(JobStatus(raw_status.decode())) in DONE
    except ValueError:
        return False


async def wait(redis: Redis, stream: AsyncRedis, job_id: str, seconds: float) -> JobState:
    """The job once finished or failed, or still running when `seconds` have passed.

    Awaits the job's RQ results stream (which gets an entry when an attempt ends) on the async client `stream`,
    rather than polling, and holds no thread while it waits: only the final status read runs in one.
    """
    loop = asyncio.get_running_loop()
    deadline, seen, key = loop.time() + seconds, "0-0", Job.key_for(job_id)
    while not _done(await stream.hget(key, "status")) and (left := deadline - loop.time()) > 0:
        block = max(1, int(min(left, RECHECK_SECONDS) * 1000))
        entries = await stream.xread({Result.get_key(job_id): seen}, block=block)
        if entries:
            seen = entries[0][1][-1][0]
    return await asyncio.to_thread(status, redis, job_id)


def result(redis: Redis, job_id: str, index: int) -> bytes:
    """The PNG bytes of the job's `index`-th result."""
    state = status(redis, job_id)
    if state.status == "failed":
        raise JobNotFinished(f"job {job_id} failed: {state.error}")
    if state.status != "finished":
        raise JobNotFinished(f"job {job_id} is {state.status}; poll /jobs/{job_id} until it is finished")
    if not state.results:
        raise NoSuchResult(f"job {job_id} ({state.kind}) has no image results")
    count = len(state.results)
    if index >= count:
        raise NoSuchResult(f"job {job_id} has {count} results (0 to {count - 1}), not {index}")
    png = redis.get(state.results[index])
    if png is None:
        raise NoSuchResult(f"result {index} of job {job_id} has expired")
    return png
