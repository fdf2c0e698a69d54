"""Row 3: one worker's throughput on 16 queued manipulate jobs, micro-batched (BATCH_SIZE as shipped) vs one at a time.

A real worker process (`python -m workers.process`) on an embedded Redis waits idle with its model loaded; the 16
jobs are then queued in one transaction, so its first dequeue already sees them all. Throughput is 16 jobs over
the span from queueing to the last job's end as RQ recorded it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from rq import Queue, Retry, Worker

from bench.deployment import READY_SECONDS, ROOT, embedded_redis, service_environment, stop
from bench.table import Row, Target
from contract import jobs, keys
from contract.settings import Settings

JOBS = 16
TARGET = Target(">=", 3)
FINISH_SECONDS = 1800


def wait_until_idle(redis, worker: subprocess.Popen) -> None:
    """Until the worker has its model loaded and is blocked waiting for jobs."""
    deadline = time.monotonic() + READY_SECONDS
    while not any(each.get_state() == "idle" for each in Worker.all(connection=redis)):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the worker did not start (see its log above)")
        time.sleep(0.2)


def queue_at_once(redis, settings: Settings, arguments: list[dict]) -> list:
    """Manipulate jobs with the options service.jobs.enqueue gives them, queued in one MULTI/EXEC."""
    retry = Retry(max=settings.job_retries) if settings.job_retries else None
    data = [
        Queue.prepare_data(
            "workers.tasks.manipulate",
            kwargs=each,
            job_id=jobs.new_job_id(),
            meta={"kind": "manipulate"},
            timeout=settings.job_timeout,
            result_ttl=settings.result_ttl,
            failure_ttl=settings.failed_ttl,
            retry=retry,
        )
        for each in arguments
    ]
    with redis.pipeline() as pipeline:
        queued = jobs.queue(redis, keys.MANIPULATE_QUEUE).enqueue_many(data, pipeline=pipeline)
        pipeline.execute()
    return queued


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_once(bench, redis, settings: Settings) -> tuple[float, list[int]]:
    """Jobs per second on one batch of JOBS queued jobs, and the batch sizes the worker ran them in."""
    arguments = [
        {
            "upload": jobs.store_upload(redis, photo, settings),
            "conditions": [[bench.workload.attribute, True]],
            "strength": 1.0,
            "seed": 0,
            "crop": "none",
        }
        for photo in bench.workload.photos(JOBS)
    ]
    queued_at = datetime.now(UTC)
    queued = queue_at_once(redis, settings, arguments)
    deadline = time.monotonic() + FINISH_SECONDS
    while True:
        done = [jobs.fetch(redis, job.id) for job in queued]
        if all(jobs.public_status(job) in ("finished", "failed") for job in done):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{JOBS} jobs did not finish in {FINISH_SECONDS} s")
        time.sleep(0.05)
    failed = [job for job in done if jobs.public_status(job) != "finished"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {JOBS} jobs failed: {jobs.error_message(failed[0])}")
    span = max(utc(job.ended_at) for job in done) - queued_at
    return JOBS / span.total_seconds(), [job.return_value()["batch_size"] for job in done]


def jobs_per_second(bench, batch_size: int, repeats: int) -> tuple[float, list[int]]:
    """Median throughput of one worker process with this BATCH_SIZE over `repeats` rounds (after one warm-up round)."""
    with embedded_redis() as (redis, redis_url):
        settings = Settings(redis_url=redis_url, checkpoint=str(bench.workload.checkpoint), batch_size=batch_size)
        env = service_environment(redis_url, bench.workload.checkpoint, bench.threads, batch_size=batch_size)
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers.process", "--device", bench.device], cwd=ROOT, env=env
        )
        try:
            wait_until_idle(redis, worker)
            rounds = [run_once(bench, redis, settings) for _ in range(repeats + 1)][1:]
        finally:
            stop([worker])
    return statistics.median(rate for rate, _ in rounds), rounds[-1][1]


def measure(bench) -> list[Row]:
    shipped = Settings.model_fields["batch_size"].default
    repeats = bench.size(3, 1)
    batched, sizes = jobs_per_second(bench, shipped, repeats)
    single, _ = jobs_per_second(bench, 1, repeats)
    figures = (
        f"BATCH_SIZE={shipped}: {batched:.2f} jobs/s "
        f"(batches of {', '.join(map(str, sorted(set(sizes), reverse=True)))}); "
        f"BATCH_SIZE=1: {single:.2f} jobs/s"
    )
    note = (
        f"{bench.workload.source}, crop=none, {bench.workload.mode} mode; "
        f"one worker process, {bench.threads} thread(s), "
        f"embedded Redis; median of {repeats} round(s) after a warm-up round"
    )
    return [
        Row(
            "3",
            f"micro-batched vs one-at-a-time worker, {JOBS} queued jobs (throughput ratio)",
            figures,
            batched / single,
            target=TARGET,
            note=note,
        )
    ]
