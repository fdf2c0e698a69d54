"""Attributes: list, inspect, define (binary, PU or from a zip; a new version each time) and delete."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile
from fastapi.responses import JSONResponse

from service import attribute_store, errors, examples, jobs, keys
from service.conditions import NAME_PATTERN
from service.deps import ApiKeyDep, RedisDep, SettingsDep

router = APIRouter(tags=["attributes"])


def _settled(redis, record: dict) -> dict:
    """A "training" record whose job already failed for good (e.g. its worker died) is shown as failed."""
    if record["status"] != attribute_store.TRAINING or not record.get("job_id"):
        return record
    try:
        job = jobs.fetch(redis, record["job_id"])
    except HTTPException:
        return record
    if jobs.public_status(job) == "failed":
        attribute_store.fail_version(redis, record["name"], job.id, jobs.error_message(job) or "training failed")
        return attribute_store.get(redis, record["name"]) or record
    return record


def _record(redis, name: str) -> dict:
    record = attribute_store.get(redis, name)
    if record is None:
        known = ", ".join(attribute_store.names(redis)) or "none"
        raise HTTPException(404, f"unknown attribute {name!r}; known attributes: {known}")
    return _settled(redis, record)


@router.get("/attributes")
def list_attributes(redis: RedisDep) -> dict:
    return {"attributes": [attribute_store.public_view(_settled(redis, record)) for record in attribute_store.all_records(redis)]}


@router.get("/attributes/{name}", responses=errors.responses(404))
def get_attribute(redis: RedisDep, name: str) -> dict:
    return attribute_store.public_view(_record(redis, name))


@router.delete("/attributes/{name}", status_code=204, responses=errors.responses(401, 403, 404, 413, 429))
def delete_attribute(redis: RedisDep, _: ApiKeyDep, name: str) -> Response:
    if _record(redis, name).get("builtin") == "1":
        raise HTTPException(403, f"{name!r} is a built-in attribute and cannot be deleted")
    attribute_store.delete(redis, name)
    return Response(status_code=204)


@router.post("/attributes", status_code=202, responses=errors.responses(400, 401, 403, 413, 422, 429))
def define_attribute(
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    name: Annotated[str, Form(description="lowercase letters, digits and _, at most 40")],
    positive: Annotated[list[UploadFile] | None, File(description="images that have the attribute")] = None,
    negative: Annotated[list[UploadFile] | None, File(description="images that lack it; none = positive-unlabeled training")] = None,
    examples_zip: Annotated[UploadFile | None, File(alias="examples", description="zip of images + labels.csv (file,label)")] = None,
    crop: Annotated[Literal["face", "center", "none"], Form()] = "face",
    mirror: Annotated[bool, Form(description="binary attributes: also train on the examples' left-right mirror "
                                             "images (a better classifier; encoding takes about twice as long)")] = False,
) -> JSONResponse:
    positive, negative = positive or [], negative or []
    if not NAME_PATTERN.fullmatch(name):
        raise HTTPException(422, f"attribute name {name!r} must match {NAME_PATTERN.pattern}")
    existing = attribute_store.get(redis, name)
    if existing and existing.get("builtin") == "1":
        raise HTTPException(403, f"{name!r} is a built-in attribute and is read-only; choose another name")
    if examples_zip is not None and (positive or negative):
        raise HTTPException(422, "give either positive/negative files or one examples zip, not both")
    if examples_zip is None and not positive:
        raise HTTPException(422, "no positive examples: send `positive` files (and optionally `negative`) or an `examples` zip")
    given = examples.from_zip(examples_zip, settings) if examples_zip is not None else examples.from_files(positive, negative, settings)
    given.check(settings)
    job_id = jobs.new_job_id()
    arguments = {
        "name": name, "crop": crop, "mirror": mirror,
        "positive": [jobs.store_upload(redis, data, settings) for data in given.positive],
        "negative": [jobs.store_upload(redis, data, settings) for data in given.negative],
    }
    counts = {"positives": len(given.positive), "negatives": len(given.negative)}
    version = attribute_store.begin_version(redis, name, job_id, counts)
    try:
        job = jobs.enqueue(redis, settings, keys.ATTRIBUTES_QUEUE, "workers.tasks.fit_attribute", "attribute", arguments, job_id)
    except HTTPException:
        attribute_store.fail_version(redis, name, job_id, "the attributes queue was full")
        raise
    body = {**jobs.accepted(job), "name": name, "version": version, "attribute_url": f"/attributes/{name}"}
    return JSONResponse(body, status_code=202, headers={"Location": f"/jobs/{job.id}"})
