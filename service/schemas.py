"""The response bodies, as pydantic models so OpenAPI documents them."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

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


Point = Annotated[list[float], Field(min_length=2, max_length=2, description="[x, y]")]


class FaceView(BaseModel):
    """One face found in an edited photo, in the uploaded photo's pixel coordinates."""

    box: Annotated[list[float], Field(min_length=4, max_length=4, description="[x, y, width, height]")]
    landmarks: Annotated[list[Point], Field(min_length=5, max_length=5)] | None = Field(
        None, description="eyes, nose tip and mouth corners; null when the face was not aligned by them")
    aligned: bool = Field(description="mapped onto the model's framing by its landmarks (false: a plain crop)")
    changed: bool = Field(description="edited; false when it already had every asked attribute")
    identity_distance: float | None = Field(
        None, description="face-embedding distance between before and after (same person under 0.6); null if not "
                          "measured")
    note: str | None = Field(None, description="why it was left as it was, or how it was handled")


class JobView(BaseModel):
    job_id: str
    kind: str | None
    status: str
    error: str | None
    result_urls: list[str]
    created_at: str | None
    ended_at: str | None
    faces: list[FaceView] | None = Field(
        description="a finished manipulate job's faces, edited or not; null for other jobs and older results")

    @classmethod
    def of(cls, state: JobState) -> JobView:
        faces = state.return_value.get("faces") if state.kind == "manipulate" else None
        return cls(job_id=state.id, kind=state.kind, status=state.status, error=state.error,
                   result_urls=[f"/jobs/{state.id}/result/{index}" for index in range(len(state.results))],
                   created_at=_iso(state.created_at), ended_at=_iso(state.ended_at), faces=faces)


class FailedJob(JobView):
    """A job that failed while the request waited for it (?wait=)."""

    detail: str | None


class ExampleCounts(BaseModel):
    """How the posted examples were framed for the model."""

    aligned: int = Field(description="aligned by their face landmarks")
    center_fallback: int = Field(description="no face found: the centre square was used instead")
    refused: int = Field(description="left out of the fit")


class AttributeView(BaseModel):
    name: str
    status: str
    kind: str | None
    builtin: bool
    version: int
    counts: dict[str, int | None]
    accuracy: float | None
    examples: ExampleCounts | None = Field(description="how the examples were framed; null when not recorded")
    strength: float | None = Field(description="the edit strength tuned at definition (what ?strength=1 applies)")
    remove_strength: float | None = Field(description="the same for removing it (attr=-NAME); null when not tuned")
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
        examples = metadata.get("examples")  # absent from records fitted before examples were aligned
        return cls(
            name=record["name"], status=record["status"], kind=record.get("kind") or None,
            builtin=record.get("builtin") == "1", version=int(record.get("version") or 0),
            counts=counts or json.loads(record.get("counts") or "{}"), accuracy=metadata.get("cv_accuracy"),
            examples=examples, strength=(metadata.get("defaults") or {}).get("strength"),
            remove_strength=(metadata.get("remove_defaults") or {}).get("strength"),
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
        defined = (f"{label}defined from positive examples only ({metadata.get('positives', '?')} faces that have "
                   f"it, against {metadata.get('unlabeled', '?')} unlabeled faces){mirrored}{share(metadata)}")
    elif kind == "binary":
        defined = (f"{label}defined from {metadata.get('positives', '?')} faces that have it and "
                   f"{metadata.get('negatives', '?')} that do not{mirrored}")
    else:
        return "not defined yet: its examples are being fitted, or the fit failed"
    return defined + unaligned(metadata) + edited_region(metadata)


def edited_region(metadata: dict) -> str:
    """Where its edits act when they are local: only the latent cells where its examples differ (the eyes for
    eyeglasses, the mouth for a smile), so people know the rest of the face is left alone."""
    region = metadata.get("region")
    local = [way for way, key in (("adding", "defaults"), ("removing", "remove_defaults"))
             if (metadata.get(key) or {}).get("local", True)]
    if not region or not local:
        return ""
    edits = "edits" if len(local) == 2 else f"{local[0]} it edits"
    return f"; {edits} only where its examples differ ({region['cells']} of the face's {region['of']} latent cells)"


def share(metadata: dict) -> str:
    """How common a PU attribute's positives look among the unlabeled faces: a share near 100% means the examples
    do not stand out from faces in general, so the attribute will edit little."""
    prior = metadata.get("class_prior")
    return "" if prior is None else f"; about {round(100 * prior)}% of the unlabeled faces look like them"


def unaligned(metadata: dict) -> str:
    """The examples that were not aligned, if any: they make a weaker attribute, so people choosing it should know."""
    examples = metadata.get("examples") or {}
    fallbacks = examples.get("center_fallback", metadata.get("no_face_center_crops", 0))
    refused = examples.get("refused", 0)
    said = [f"{fallbacks} had no face found and were framed by the centre square" if fallbacks else "",
            f"{refused} were refused" if refused else ""]
    return "".join(f"; {part}" for part in said if part)


class AttributeList(BaseModel):
    attributes: list[AttributeView]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    redis: bool
    workers: int
    detail: str | None = None
