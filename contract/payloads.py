"""One typed payload per job kind: the RQ task that runs it, its queue, its kind, and its arguments.

`arguments()` is what RQ stores (JSON, never a pickle) and the task receives as keyword arguments; the task
validates them back into the same class. A condition travels as the JSON pair [name, target].
"""
from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from contract import keys

Crop = Literal["face", "center", "none"]
Faces = Literal["all", "largest"]  # with crop=face: edit every face found, or only the largest


class Condition(NamedTuple):
    """An attribute the result must have (target True) or lack (target False)."""

    name: str
    target: bool


class JobPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]  # shown as the job's `kind` and labels its latency metric
    QUEUE: ClassVar[str]
    TASK: ClassVar[str]  # dotted path of the worker function; RQ imports it by this name

    def arguments(self) -> dict:
        return self.model_dump(mode="json")

    def upload_keys(self) -> list[str]:
        """Redis keys of the uploaded images this job reads."""
        return []


class ManipulatePayload(JobPayload):
    KIND = "manipulate"
    QUEUE = keys.MANIPULATE_QUEUE
    TASK = "workers.tasks.manipulate"

    upload: str
    conditions: list[Condition]
    strength: float = 1.0  # multiplies the attributes' tuned strength
    seed: int = 0
    crop: Crop = "face"
    faces: Faces = "all"

    def arguments(self) -> dict:
        # the default is left out: such arguments are the ones queued before `faces` existed, which workers of that
        # version (extra="forbid") still take during a rolling upgrade
        return self.model_dump(mode="json", exclude={"faces"} if self.faces == "all" else None)

    def upload_keys(self) -> list[str]:
        return [self.upload]


class AttributePayload(JobPayload):
    KIND = "attribute"
    QUEUE = keys.ATTRIBUTES_QUEUE
    TASK = "workers.tasks.fit_attribute"

    name: str
    positive: list[str]
    negative: list[str]  # empty: a positive-unlabeled classifier
    crop: Crop = "face"
    mirror: bool = False

    def upload_keys(self) -> list[str]:
        return [*self.positive, *self.negative]


class GeneratePayload(JobPayload):
    KIND = "generate"
    QUEUE = keys.GENERATE_QUEUE
    TASK = "workers.tasks.generate"

    conditions: list[Condition]
    count: int
    seed: int = 0


PAYLOADS: tuple[type[JobPayload], ...] = (ManipulatePayload, AttributePayload, GeneratePayload)
KINDS = tuple(payload.KIND for payload in PAYLOADS)
