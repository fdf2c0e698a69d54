"""POST /manipulate: queue an edit of one uploaded photo, optionally waiting for the PNG.

The route is async: checking and queueing the upload runs in the thread pool, waiting (?wait=) awaits Redis on
the event loop and holds no thread, so waiting requests cannot starve the rest of the API. At most MAX_WAITERS
wait at once; beyond that a request with ?wait= gets 503 before anything is queued.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from contract import jobs
from contract.payloads import Condition, Crop, Faces, ManipulatePayload
from contract.settings import ApiSettings
from service import errors
from service.conditions import parse_conditions
from service.deps import ApiKeyDep, RedisDep, SettingsDep
from service.schemas import Accepted, FaceView, FailedJob, JobView
from service.uploads import read_image

router = APIRouter(tags=["manipulate"])
STRENGTH = "multiplier on the attributes' tuned strength (1 = as tuned, 0 = no edit)"
FACE_COUNT_HEADERS = {
    "X-Job-Id": {"description": "the job, whose GET /jobs/{id} lists the faces", "schema": {"type": "string"}},
    "X-Faces-Found": {"description": "faces found in the photo (absent when the job did not list them)",
                      "schema": {"type": "integer"}},
    "X-Faces-Changed": {"description": "faces edited: one that already has the asked attributes is left as it was",
                        "schema": {"type": "integer"}},
}
EDITED_PNG = {200: {"content": {"image/png": {}}, "headers": FACE_COUNT_HEADERS,
                    "description": "the edited photo (with ?wait= and the job done in time)"}}


def face_counts(faces: list[FaceView] | None) -> dict[str, str]:
    """The X-Faces-* headers; none for a job whose worker did not list its faces."""
    if faces is None:
        return {}
    return {"X-Faces-Found": str(len(faces)), "X-Faces-Changed": str(sum(face.changed for face in faces))}


def finished_response(redis: Redis, state: jobs.JobState) -> Response:
    view = JobView.of(state)
    if state.status == "failed":
        body = FailedJob(detail=state.error, **view.model_dump())
        return JSONResponse(body.model_dump(), status_code=state.error_status)
    return Response(jobs.result(redis, state.id, 0), media_type="image/png",
                    headers={"X-Job-Id": state.id, **face_counts(view.faces)})


def queue_edit(redis: Redis, settings: ApiSettings, image: UploadFile, conditions: list[Condition], strength: float,
               seed: int, crop: Crop, faces: Faces) -> jobs.JobState:
    data = read_image(image, settings, "image")
    payload = ManipulatePayload(upload=jobs.store_upload(redis, data, settings), conditions=conditions,
                                strength=strength, seed=seed, crop=crop, faces=faces)
    return jobs.enqueue(redis, settings, payload)


@router.post(
    "/manipulate",
    status_code=202,
    response_model=Accepted,
    responses={**EDITED_PNG, **errors.responses(400, 401, 403, 404, 409, 410, 413, 422, 429, 500)},
)
async def manipulate(
    request: Request,
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    image: Annotated[UploadFile, File(description="JPEG, PNG or WebP photo")],
    attr: Annotated[list[str], Query(min_length=1, description="attribute to add; -NAME removes it; repeatable")],
    strength: Annotated[float, Query(ge=0.0, le=10.0, description=STRENGTH)] = 1.0,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    crop: Crop = "face",
    faces: Annotated[Faces, Query(description="edit every face found, or only the largest")] = "all",
    wait: Annotated[float, Query(ge=0.0, description="seconds to wait for the PNG before answering 202")] = 0.0,
) -> Response:
    if wait > settings.max_wait:
        raise HTTPException(422, f"wait={wait} is longer than the limit of {settings.max_wait} seconds")
    images = (await request.form()).getlist("image")  # the form FastAPI already parsed
    if len(images) > 1:
        raise HTTPException(422, f"send one `image` file, not {len(images)}")
    with request.app.state.waiters.slot() if wait > 0 else nullcontext():
        conditions = await run_in_threadpool(parse_conditions, redis, attr)
        state = await run_in_threadpool(queue_edit, redis, settings, image, conditions, strength, seed, crop,
                                        faces)
        if wait > 0:
            async with AsyncRedis.from_url(settings.redis_url) as stream:
                state = await jobs.wait(redis, stream, state.id, wait)
            if state.done:
                return await run_in_threadpool(finished_response, redis, state)
    return JSONResponse(Accepted.of(state).model_dump(), status_code=202, headers={"Location": f"/jobs/{state.id}"})
