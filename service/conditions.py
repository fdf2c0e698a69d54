"""Turning `attr=NAME` / `attr=-NAME` query values into checked conditions."""
from __future__ import annotations

from fastapi import HTTPException
from redis import Redis

from contract import attributes
from contract.attributes import NAME_PATTERN
from contract.payloads import Condition


def _parsed(values: list[str]) -> dict[str, bool]:
    """name -> target; 422 for a malformed or contradictory list."""
    targets: dict[str, bool] = {}
    for value in values:
        target = not value.startswith("-")
        name = value.lstrip("-+ ")
        if not NAME_PATTERN.fullmatch(name):
            raise HTTPException(422, f"attr={value!r} is not an attribute name (expected NAME or -NAME, "
                                     f"NAME matching {NAME_PATTERN.pattern})")
        if name in targets and targets[name] != target:
            raise HTTPException(422, f"attr asks for both {name!r} and not {name!r}")
        targets[name] = target
    return targets


def known_record(redis: Redis, name: str) -> dict:
    """The attribute's record; 404 naming the known attributes when there is none."""
    record = attributes.get(redis, name)
    if record is None:
        known = ", ".join(attributes.names(redis)) or "none yet (no worker has started)"
        raise HTTPException(404, f"unknown attribute {name!r}; known attributes: {known}")
    return record


def _check_ready(redis: Redis, name: str) -> None:
    """404 for an unknown attribute, 409 for one still training or failed."""
    record = known_record(redis, name)
    if record["status"] == attributes.TRAINING:
        raise HTTPException(409, f"attribute {name!r} is still training (version {record.get('version')}); "
                                 f"retry when GET /attributes/{name} says ready")
    if record["status"] == attributes.FAILED:
        raise HTTPException(409, f"attribute {name!r} failed to train: {record.get('error')}; "
                                 f"post new examples to fix it")


def parse_conditions(redis: Redis, values: list[str]) -> list[Condition]:
    targets = _parsed(values)
    for name in targets:
        _check_ready(redis, name)
    return [Condition(name, target) for name, target in targets.items()]
