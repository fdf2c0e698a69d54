"""Attributes: list, inspect, define (binary, PU or from a zip; a new version each time) and delete."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile
from redis import Redis

from contract import attributes, jobs
from contract.attributes import NAME_PATTERN
from contract.errors import NoSuchJob
from contract.payloads import AttributePayload, Crop
from service import errors, examples
from service.conditions import known_record
from service.deps import ApiKeyDep, RedisDep, SettingsDep
from service.schemas import AttributeAccepted, AttributeList, AttributeView

router = APIRouter(tags=["attributes"])
MIRROR = ("binary attributes: also train on the examples' left-right mirror images "
          "(a better classifier; encoding takes about twice as long)")


def _settled(redis: Redis, record: dict) -> dict:
    """A "training" record whose job already failed for good (e.g. its worker died) is shown as failed."""
    if record["status"] != attributes.TRAINING or not record.get("job_id"):
        return record
    try:
        state = jobs.status(redis, record["job_id"])
    except NoSuchJob:
        return record
    if state.status == "failed":
        attributes.fail_version(redis, record["name"], state.id, state.error or "training failed")
        return attributes.get(redis, record["name"]) or record
    return record


def _record(redis: Redis, name: str) -> dict:
    return _settled(redis, known_record(redis, name))


@router.get("/attributes", responses=errors.responses())
def list_attributes(redis: RedisDep) -> AttributeList:
    records = [_settled(redis, record) for record in attributes.all_records(redis)]
    return AttributeList(attributes=[AttributeView.of(record) for record in records])


@router.get("/attributes/{name}", responses=errors.responses(404))
def get_attribute(redis: RedisDep, name: str) -> AttributeView:
    return AttributeView.of(_record(redis, name))


@router.delete("/attributes/{name}", status_code=204, responses=errors.responses(401, 403, 404, 413, 429))
def delete_attribute(redis: RedisDep, _: ApiKeyDep, name: str) -> Response:
    if _record(redis, name).get("builtin") == "1":
        raise HTTPException(403, f"{name!r} is a built-in attribute and cannot be deleted")
    attributes.delete(redis, name)
    return Response(status_code=204)


def _examples(settings, positive: list[UploadFile], negative: list[UploadFile],
              examples_zip: UploadFile | None) -> examples.Examples:
    if examples_zip is not None and (positive or negative):
        raise HTTPException(422, "give either positive/negative files or one examples zip, not both")
    if examples_zip is None and not positive:
        raise HTTPException(422, "no positive examples: send `positive` files (and optionally `negative`) "
                                 "or an `examples` zip")
    if examples_zip is not None:
        return examples.from_zip(examples_zip, settings)
    return examples.from_files(positive, negative, settings)


@router.post("/attributes", status_code=202, responses=errors.responses(400, 401, 403, 413, 422, 429))
def define_attribute(
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    response: Response,
    name: Annotated[str, Form(description="lowercase letters, digits and _, at most 40")],
    positive: Annotated[list[UploadFile] | None, File(description="images that have the attribute")] = None,
    negative: Annotated[list[UploadFile] | None,
                        File(description="images that lack it; none = positive-unlabeled training")] = None,
    examples_zip: Annotated[UploadFile | None,
                            File(alias="examples", description="zip of images + labels.csv (file,label)")] = None,
    crop: Annotated[Crop, Form()] = "face",
    mirror: Annotated[bool, Form(description=MIRROR)] = False,
) -> AttributeAccepted:
    if not NAME_PATTERN.fullmatch(name):
        raise HTTPException(422, f"attribute name {name!r} must match {NAME_PATTERN.pattern}")
    existing = attributes.get(redis, name)
    if existing and existing.get("builtin") == "1":
        raise HTTPException(403, f"{name!r} is a built-in attribute and is read-only; choose another name")
    given = _examples(settings, positive or [], negative or [], examples_zip)
    given.check(settings)
    job_id = jobs.new_job_id()
    payload = AttributePayload(
        name=name, crop=crop, mirror=mirror,
        positive=[jobs.store_upload(redis, data, settings) for data in given.positive],
        negative=[jobs.store_upload(redis, data, settings) for data in given.negative],
    )
    counts = {"positives": len(given.positive), "negatives": len(given.negative)}
    state, version = attributes.define(redis, settings, payload, job_id, counts)
    response.headers["Location"] = f"/jobs/{state.id}"
    return AttributeAccepted.of(state, name=name, version=version, attribute_url=f"/attributes/{name}")
