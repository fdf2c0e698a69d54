"""Attributes deleted, retrained or defined again while jobs that use them wait: each such job fails at once with
a clear error (no retries, its uploads dropped), a waiting client gets 404 or 409, and a fit whose result was
discarded is shown failed, never finished."""
from __future__ import annotations

import threading
import time

from contract import attributes, jobs, keys
from tests.api_calls import define, poll, post_photo, wait_ready
from tests.deployment import paused
from tests.images import png


def queue_edit_with(client, name: str, seed: int) -> str:
    response = post_photo(client, png(seed=seed), {"attr": name, "crop": "none", "seed": seed})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def wait_until_queued(redis, count: int) -> None:
    deadline = time.monotonic() + 10
    while jobs.waiting(redis, keys.MANIPULATE_QUEUE) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_edits_queued_before_their_attribute_is_deleted_or_retrained_fail_clearly(client, redis, worker):
    for name in ("short_lived", "retrained"):
        assert define(client, name).status_code == 202
        assert wait_ready(client, name)["status"] == "ready"
    waited = []
    with paused(worker):
        deleted = [queue_edit_with(client, "short_lived", seed) for seed in range(3)]
        retrained = [queue_edit_with(client, "retrained", seed) for seed in range(3)]
        waiter = threading.Thread(target=lambda: waited.append(post_photo(
            client, png(seed=9), {"attr": "short_lived", "crop": "none", "wait": 60})))
        waiter.start()
        wait_until_queued(redis, 6)  # the worker's blocked dequeue may already hold the first job
        assert client.delete("/attributes/short_lived").status_code == 204
        attributes.begin_version(redis, "retrained", "a-fit-still-running", {"positives": 6, "negatives": 6})
    waiter.join(timeout=120)
    for job_id in deleted:
        status = poll(client, job_id)
        assert status["status"] == "failed" and "was deleted after this job was queued" in status["error"], status
    for job_id in retrained:
        status = poll(client, job_id)
        assert status["status"] == "failed" and "is being retrained (version 2)" in status["error"], status
    for job_id in deleted + retrained:
        job = jobs.fetch(redis, job_id)
        assert len(job.results()) == 1  # one attempt: not retried, though the settings allow one retry
        assert redis.exists(job.kwargs["upload"]) == 0
    assert waited[0].status_code == 404 and "was deleted" in waited[0].json()["detail"]
    attributes.delete(redis, "retrained")


def test_a_fit_superseded_or_deleted_before_it_ends_is_failed_not_finished(client, redis, worker):
    with paused(worker):
        first = define(client, "twice").json()["job_id"]
        second = define(client, "twice", seed=7).json()["job_id"]
        gone = define(client, "vanishing").json()["job_id"]
        assert client.delete("/attributes/vanishing").status_code == 204
    first_status, gone_status = poll(client, first), poll(client, gone)
    assert first_status["status"] == "failed", first_status
    assert f"defined again (version 2, job {second})" in first_status["error"]
    assert gone_status["status"] == "failed" and "was deleted after this version was queued" in gone_status["error"]
    assert poll(client, second)["status"] == "finished"
    assert wait_ready(client, "twice")["version"] == 2
    for job_id in (first, gone):
        assert all(redis.exists(key) == 0 for key in jobs.fetch(redis, job_id).kwargs["positive"])
