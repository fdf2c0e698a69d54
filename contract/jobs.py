"""The one RQ adapter: queue a typed payload, read a job's status, wait for it, read its results.

Arguments are JSON only (Redis keys of uploaded bytes and plain values). Refusals are domain errors
(`contract.errors`); the API maps them to HTTP statuses.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
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


def enqueue(redis: Redis, settings: ApiSettings, payload: JobPayload, job_id: str | None = None) -> JobState:
    """Queue a job unless `settings.queue_limit` jobs already wait; the bound holds under concurrent requests."""
    target = queue(redis, payload.QUEUE)
    if target.count >= settings.queue_limit:
        raise _refuse(redis, settings, payload)
    job = target.enqueue(
        payload.TASK, kwargs=payload.arguments(), job_id=job_id or new_job_id(), meta={"kind": payload.KIND},
        job_timeout=settings.job_timeout, result_ttl=settings.result_ttl, failure_ttl=settings.failed_ttl,
        retry=Retry(max=settings.job_retries) if settings.job_retries else None,
    )
    # requests racing past the check above: a job whose push took the queue over the bound withdraws itself
    # (LREM returns 0 when a worker already took it, and then it simply runs)
    if redis.llen(target.key) > settings.queue_limit and redis.lrem(target.key, 1, job.id):
        job.delete()
        raise _refuse(redis, settings, payload)
    return state_of(job)


def fetch(redis: Redis, job_id: str) -> Job:
    try:
        return Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    except Exception as error:  # rq raises NoSuchJobError, or a decoding error for a foreign key
        raise NoSuchJob(job_id) from error


def public_status(job: Job) -> str:
    return PUBLIC_STATUS.get(job.get_status(refresh=False), "queued")


def result_keys(job: Job) -> list[str]:
    value = job.return_value() if public_status(job) == "finished" else None
    return list(value.get("results", [])) if isinstance(value, dict) else []


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
    return JobState(
        id=job.id, kind=job.meta.get("kind"), status=public_status(job), error=error_message(job),
        error_status=int(job.meta.get("error_status", 500)), results=result_keys(job),
        created_at=job.created_at, ended_at=job.ended_at,
    )


def status(redis: Redis, job_id: str) -> JobState:
    return state_of(fetch(redis, job_id))


def wait(redis: Redis, job_id: str, seconds: float) -> JobState:
    """The job once finished or failed, or still running when `seconds` have passed.

    Blocks on the job's RQ results stream, which gets an entry when an attempt ends, rather than polling: a
    50 ms poll added 25 ms on average to every waited edit.
    """
    deadline = time.monotonic() + seconds
    state, seen = status(redis, job_id), "0-0"
    while not state.done and (left := deadline - time.monotonic()) > 0:
        entries = redis.xread({Result.get_key(job_id): seen}, block=max(1, int(min(left, RECHECK_SECONDS) * 1000)))
        if entries:
            seen = entries[0][1][-1][0]
        state = status(redis, job_id)
    return state


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
