"""Enqueueing RQ jobs (JSON arguments only: Redis keys and plain values) and describing them to clients."""
from __future__ import annotations

import uuid

from fastapi import HTTPException
from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from service import keys
from service.settings import Settings

PUBLIC_STATUS = {
    JobStatus.QUEUED: "queued", JobStatus.DEFERRED: "queued", JobStatus.SCHEDULED: "queued",
    JobStatus.STARTED: "started", JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed", JobStatus.STOPPED: "failed", JobStatus.CANCELED: "failed",
}
WORKER_DIED = "a worker died while running this job and it has no retries left"


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis, serializer=JSONSerializer)


def store_upload(redis: Redis, data: bytes, settings: Settings) -> str:
    key = keys.upload(uuid.uuid4().hex)
    redis.set(key, data, ex=settings.upload_ttl)
    return key


def new_job_id() -> str:
    return uuid.uuid4().hex


def queue_full(redis: Redis, settings: Settings, queue_name: str, arguments: dict) -> HTTPException:
    """The 429 for a full queue; the request's upload is dropped at once rather than left to its TTL."""
    if "upload" in arguments:
        redis.delete(arguments["upload"])
    return HTTPException(429, f"the {queue_name} queue is full ({settings.queue_limit} jobs waiting); "
                              f"retry after {settings.queue_retry_after} s", headers={"Retry-After": str(settings.queue_retry_after)})


def enqueue(redis: Redis, settings: Settings, queue_name: str, task: str, kind: str, arguments: dict, job_id: str | None = None) -> Job:
    """Queue a job unless `settings.queue_limit` jobs already wait; the bound holds under concurrent requests."""
    target = queue(redis, queue_name)
    if target.count >= settings.queue_limit:
        raise queue_full(redis, settings, queue_name, arguments)
    job = target.enqueue(
        task, kwargs=arguments, job_id=job_id or new_job_id(), meta={"kind": kind},
        job_timeout=settings.job_timeout, result_ttl=settings.result_ttl, failure_ttl=settings.failed_ttl,
        retry=Retry(max=settings.job_retries) if settings.job_retries else None,
    )
    # requests racing past the check above: a job whose push took the queue over the bound withdraws itself
    # (LREM returns 0 when a worker already took it, and then it simply runs)
    if redis.llen(target.key) > settings.queue_limit and redis.lrem(target.key, 1, job.id):
        job.delete()
        raise queue_full(redis, settings, queue_name, arguments)
    return job


def fetch(redis: Redis, job_id: str) -> Job:
    try:
        return Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    except Exception as error:  # rq raises NoSuchJobError, or a decoding error for a foreign key
        raise HTTPException(404, f"no job {job_id!r} (unknown, or its results expired)") from error


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


def describe(job: Job) -> dict:
    """The public JSON for GET /jobs/{id}."""
    count = len(result_keys(job))
    return {
        "job_id": job.id,
        "kind": job.meta.get("kind"),
        "status": public_status(job),
        "error": error_message(job),
        "result_urls": [f"/jobs/{job.id}/result/{index}" for index in range(count)],
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
    }


def accepted(job: Job) -> dict:
    """The 202 body for a newly queued job."""
    return {"job_id": job.id, "status": public_status(job), "status_url": f"/jobs/{job.id}", "result_url": f"/jobs/{job.id}/result"}
