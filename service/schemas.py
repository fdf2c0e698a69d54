"""The response bodies, as pydantic models so OpenAPI documents them."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contract.jobs import JobState


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class Accepted(BaseModel):
    """202: the job is queued."""

    job_id: str
    status: str
    status_url: str
    result_url: str

    @classmethod
    def of(cls, state: JobState, **extra) -> Accepted:
        return cls(job_id=state.id, status=state.status, status_url=f"/jobs/{state.id}",
                   result_url=f"/jobs/{state.id}/result", **extra)


class AttributeAccepted(Accepted):
    name: str
    version: int
    attribute_url: str


class JobView(BaseModel):
    job_id: str
    kind: str | None
    status: str
    error: str | None
    result_urls: list[str]
    created_at: str | None
    ended_at: str | None

    @classmethod
    def of(cls, state: JobState) -> JobView:
        return cls(job_id=state.id, kind=state.kind, status=state.status, error=state.error,
                   result_urls=[f"/jobs/{state.id}/result/{index}" for index in range(len(state.results))],
                   created_at=_iso(state.created_at), ended_at=_iso(state.ended_at))


class FailedJob(JobView):
    """A job that failed while the request waited for it (?wait=)."""

    detail: str | None


class AttributeView(BaseModel):
    name: str
    status: str
    kind: str | None
    builtin: bool
    version: int
    counts: dict[str, int | None]
    accuracy: float | None
    error: str | None
    job_id: str | None
    created_at: str | None
    updated_at: str | None
    metadata: dict[str, Any]
    description: str  # one line: how it was defined (from metadata), for people choosing an attribute

    @classmethod
    def of(cls, record: dict) -> AttributeView:
        metadata = json.loads(record.get("metadata") or "{}")
        counts = {key: metadata.get(key) for key in ("positives", "negatives", "unlabeled") if key in metadata}
        return cls(
            name=record["name"], status=record["status"], kind=record.get("kind") or None,
            builtin=record.get("builtin") == "1", version=int(record.get("version") or 0),
            counts=counts or json.loads(record.get("counts") or "{}"), accuracy=metadata.get("cv_accuracy"),
            error=record.get("error") or None, job_id=record.get("job_id") or None,
            created_at=record.get("created_at") or None, updated_at=record.get("updated_at") or None,
            metadata=metadata, description=describe(record.get("kind") or None, metadata),
        )


def describe(kind: str | None, metadata: dict) -> str:
    """What an attribute was defined from, in one line: `blond_pu` reads "defined from positive examples only ..."."""
    source = metadata.get("source_attribute")
    label = f"CelebA's {source} label: " if source else ""
    mirrored = ", and their mirror images" if metadata.get("mirrored") else ""
    if kind == "pu":
        return (f"{label}defined from positive examples only ({metadata.get('positives', '?')} faces that have it, "
                f"against {metadata.get('unlabeled', '?')} unlabeled faces){mirrored}")
    if kind == "binary":
        return (f"{label}defined from {metadata.get('positives', '?')} faces that have it and "
                f"{metadata.get('negatives', '?')} that do not{mirrored}")
    return "not defined yet: its examples are being fitted, or the fit failed"


class AttributeList(BaseModel):
    attributes: list[AttributeView]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    redis: bool
    workers: int
    detail: str | None = None
