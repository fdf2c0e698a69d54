"""Attribute records in Redis: one hash per name (status, version, metadata) plus the fitted weights.

The API writes "training" records, workers write "ready"/"failed" ones; a worker's result is kept only
if its job is still the latest version's (no newer post, no delete meanwhile), so versions never go backwards.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from redis import Redis, WatchError
from redis.client import Pipeline

from contract import jobs, keys
from contract.payloads import AttributePayload
from contract.settings import ApiSettings

TRAINING, READY, FAILED = "training", "ready", "failed"
NAME_PATTERN = re.compile(r"[a-z0-9_]{1,40}")  # always fullmatch: "$" would accept a trailing newline


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _decode(record: dict) -> dict:
    return {_text(key): _text(value) for key, value in record.items()}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def get(redis: Redis, name: str) -> dict | None:
    record = _decode(redis.hgetall(keys.attribute(name)))
    return record or None


def names(redis: Redis) -> list[str]:
    return sorted(name.decode() for name in redis.smembers(keys.ATTRIBUTE_INDEX))


def all_records(redis: Redis) -> list[dict]:
    return [record for record in (get(redis, name) for name in names(redis)) if record]


def _training(name: str, job_id: str, counts: dict) -> dict:
    return {"name": name, "status": TRAINING, "builtin": "0", "job_id": job_id, "error": "", "updated_at": _now(),
            "counts": json.dumps(counts), "kind": "binary" if counts.get("negatives") else "pu"}


def begin_version(redis: Redis, name: str, job_id: str, counts: dict) -> int:
    """Mark `name` as training a new version and return that version number."""
    with redis.pipeline() as pipe:
        pipe.hincrby(keys.attribute(name), "version", 1)
        pipe.hsetnx(keys.attribute(name), "created_at", _now())
        pipe.hset(keys.attribute(name), mapping=_training(name, job_id, counts))
        pipe.sadd(keys.ATTRIBUTE_INDEX, name)
        return int(pipe.execute()[0])


def define(redis: Redis, settings: ApiSettings, payload: AttributePayload, job_id: str,
           counts: dict) -> tuple[jobs.JobState, int]:
    """Queue the fit of `payload.name`'s next version and mark that version training, in one transaction: when the
    queue refuses the job (QueueFull, its uploads dropped), the existing record is left exactly as it was."""
    key, version = keys.attribute(payload.name), 0

    def write(pipe: Pipeline):
        nonlocal version
        version = int(pipe.hget(key, "version") or 0) + 1

        def writes(pipe: Pipeline) -> None:
            pipe.hsetnx(key, "created_at", _now())
            pipe.hset(key, mapping={**_training(payload.name, job_id, counts), "version": version})
            pipe.sadd(keys.ATTRIBUTE_INDEX, payload.name)

        return writes

    state = jobs.enqueue_with(redis, settings, payload, job_id, [key], write)
    return state, version


def _if_current(redis: Redis, name: str, job_id: str, update) -> bool:
    """Run `update(pipe)` atomically only while `name`'s latest version is the one fitted by `job_id`."""
    key = keys.attribute(name)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                current = pipe.hget(key, "job_id")
                if current is None or current.decode() != job_id:
                    return False
                pipe.multi()
                update(pipe)
                pipe.execute()
                return True
            except WatchError:
                continue


def finish_version(redis: Redis, name: str, job_id: str, kind: str, metadata: dict, weights: bytes,
                   info: bytes) -> bool:
    def update(pipe):
        pipe.set(keys.attribute_weights(name), weights)
        pipe.set(keys.attribute_info(name), info)
        pipe.hset(keys.attribute(name), mapping={
            "status": READY, "kind": kind, "metadata": json.dumps(metadata), "updated_at": _now(), "error": "",
        })

    return _if_current(redis, name, job_id, update)


def fail_version(redis: Redis, name: str, job_id: str, error: str) -> bool:
    def update(pipe):
        pipe.hset(keys.attribute(name), mapping={"status": FAILED, "error": error, "updated_at": _now()})

    return _if_current(redis, name, job_id, update)


def fitted_by(redis: Redis, name: str) -> str | None:
    """The job id that fitted `name`'s current version: a cheap token for workers' caches."""
    token = redis.hget(keys.attribute(name), "job_id")
    return token.decode() if token else None


def read_weights(redis: Redis, name: str) -> tuple[str, bytes, bytes] | None:
    """(fitting job id, safetensors bytes, JSON bytes) of a ready user attribute, read in one transaction."""
    with redis.pipeline() as pipe:
        pipe.hget(keys.attribute(name), "job_id")
        pipe.hget(keys.attribute(name), "status")
        pipe.get(keys.attribute_weights(name))
        pipe.get(keys.attribute_info(name))
        job_id, status, weights, info = pipe.execute()
    if job_id is None or status != READY.encode() or weights is None or info is None:
        return None
    return job_id.decode(), weights, info


def publish_builtin(redis: Redis, name: str, kind: str, metadata: dict) -> None:
    """Called by each worker at start: built-ins live in the checkpoint, Redis only lists them."""
    redis.hset(keys.attribute(name), mapping={
        "name": name, "status": READY, "builtin": "1", "kind": kind, "version": "1",
        "metadata": json.dumps(metadata, default=str), "created_at": str(metadata.get("created_at", "")),
        "updated_at": _now(), "error": "", "job_id": "",
    })
    redis.sadd(keys.ATTRIBUTE_INDEX, name)


def delete(redis: Redis, name: str) -> None:
    with redis.pipeline() as pipe:
        pipe.delete(keys.attribute(name), keys.attribute_weights(name), keys.attribute_info(name))
        pipe.srem(keys.ATTRIBUTE_INDEX, name)
        pipe.execute()
