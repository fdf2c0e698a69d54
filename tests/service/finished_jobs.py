"""Finished jobs with a chosen return value, run by the real worker: what a worker's manipulate job returns, without
depending on what the model finds in a test image."""
from __future__ import annotations

import json
import time

from contract import jobs, keys
from tests.images import png

TWO_FACES = [
    {"box": [10, 6, 40, 44], "landmarks": [[22, 20], [38, 20], [30, 30], [24, 38], [36, 38]], "aligned": True,
     "changed": True, "identity_distance": 0.31, "note": None},
    {"box": [100, 12, 36, 36], "landmarks": None, "aligned": False, "changed": False, "identity_distance": None,
     "note": "already has every asked attribute; left unchanged"},
]


def finished_job(redis, value: dict, kind: str = "manipulate", seconds: float = 60.0) -> str:
    """The id of a finished job of `kind` that returned `value`; it runs `json.loads` on the generate queue, so the
    worker's batching of edits plays no part."""
    queue = jobs.queue(redis, keys.GENERATE_QUEUE)
    job = queue.enqueue("json.loads", args=[json.dumps(value)], meta={"kind": kind}, result_ttl=600)
    deadline = time.monotonic() + seconds
    while jobs.status(redis, job.id).status != "finished":
        assert time.monotonic() < deadline, f"job {job.id} did not finish within {seconds} s"
        time.sleep(0.05)
    return job.id


def edit_with_faces(redis, faces: list[dict] | None, width: int, height: int, seed: int = 0) -> str:
    """A finished manipulate job whose result is a `width` x `height` PNG and whose return value lists `faces`."""
    key = keys.result(jobs.new_job_id(), 0)  # the stored PNG's own key: a job returns where its results are
    redis.set(key, png(width, height, seed=seed), ex=600)
    value = {"results": [key], "batch_size": 1}
    return finished_job(redis, value if faces is None else {**value, "faces": faces})
