"""Turning `attr=NAME` / `attr=-NAME` query values into checked (name, target) conditions."""
from __future__ import annotations

import re

from fastapi import HTTPException
from redis import Redis

from service import attribute_store

NAME_PATTERN = re.compile(r"[a-z0-9_]{1,40}")  # always fullmatch: "$" would accept a trailing newline


def parse_conditions(redis: Redis, values: list[str]) -> list[list]:
    """[[name, target], ...]: 422 for a malformed or contradictory list, 404 unknown, 409 not ready."""
    conditions: dict[str, bool] = {}
    for value in values:
        target = not value.startswith("-")
        name = value.lstrip("-+ ")
        if not NAME_PATTERN.fullmatch(name):
            raise HTTPException(422, f"attr={value!r} is not an attribute name (expected NAME or -NAME, NAME matching {NAME_PATTERN.pattern})")
        if name in conditions and conditions[name] != target:
            raise HTTPException(422, f"attr asks for both {name!r} and not {name!r}")
        conditions[name] = target
    for name in conditions:
        record = attribute_store.get(redis, name)
        if record is None:
            known = ", ".join(attribute_store.names(redis)) or "none yet (no worker has started)"
            raise HTTPException(404, f"unknown attribute {name!r}; known attributes: {known}")
        if record["status"] == attribute_store.TRAINING:
            raise HTTPException(409, f"attribute {name!r} is still training (version {record.get('version')}); retry when GET /attributes/{name} says ready")
        if record["status"] == attribute_store.FAILED:
            raise HTTPException(409, f"attribute {name!r} failed to train: {record.get('error')}; post new examples to fix it")
    return [[name, target] for name, target in conditions.items()]
