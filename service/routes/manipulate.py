"""POST /manipulate: queue an edit of one uploaded photo, optionally waiting for the PNG."""
from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from rq.results import Result

from service import errors, jobs, keys
from service.conditions import parse_conditions
from service.deps import ApiKeyDep, RedisDep, SettingsDep
from service.uploads import read_image

router = APIRouter(tags=["manipulate"])
RECHECK_SECONDS = 1.0  # the status is re-read at least this often, should an end ever come without a result entry


def wait_for(redis, job_id: str, seconds: float):
    """The job once finished or failed, or still running when `seconds` have passed.

    Blocks on the job's RQ results stream, which gets an entry when an attempt ends, rather than polling: a
    50 ms poll added 25 ms on average to every waited edit.
    """
    deadline = time.monotonic() + seconds
    job, seen = jobs.fetch(redis, job_id), "0-0"
    while jobs.public_status(job) not in ("finished", "failed") and (left := deadline - time.monotonic()) > 0:
        entries = redis.xread({Result.get_key(job_id): seen}, block=max(1, int(min(left, RECHECK_SECONDS) * 1000)))
        if entries:
            seen = entries[0][1][-1][0]
        job = jobs.fetch(redis, job_id)
    return job


def finished_response(redis, job) -> Response:
    if jobs.public_status(job) == "failed":
        body = {"detail": jobs.error_message(job), **jobs.describe(job)}
        return JSONResponse(body, status_code=int(job.meta.get("error_status", 500)))
    png = redis.get(jobs.result_keys(job)[0])
    if png is None:
        raise HTTPException(404, "the result expired before it could be returned")
    return Response(png, media_type="image/png", headers={"X-Job-Id": job.id})


@router.post(
    "/manipulate",
    status_code=202,
    responses={200: {"content": {"image/png": {}}, "description": "the edited photo (with ?wait= and the job done in time)"},
               **errors.responses(400, 401, 403, 404, 409, 410, 413, 422, 429, 500)},
)
def manipulate(
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    image: Annotated[UploadFile, File(description="JPEG, PNG or WebP photo")],
    attr: Annotated[list[str], Query(min_length=1, description="attribute to add; -NAME removes it; repeatable")],
    strength: Annotated[float, Query(ge=0.0, le=10.0, description="multiplier on the attributes' tuned strength (1 = as tuned, 0 = no edit)")] = 1.0,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    crop: Literal["face", "center", "none"] = "face",
    wait: Annotated[float, Query(ge=0.0, description="seconds to wait for the PNG before answering 202")] = 0.0,
):
    if wait > settings.max_wait:
        raise HTTPException(422, f"wait={wait} is longer than the limit of {settings.max_wait} seconds")
    conditions = parse_conditions(redis, attr)
    data = read_image(image, settings, "image")
    upload_key = jobs.store_upload(redis, data, settings)
    arguments = {"upload": upload_key, "conditions": conditions, "strength": strength, "seed": seed, "crop": crop}
    job = jobs.enqueue(redis, settings, keys.MANIPULATE_QUEUE, "workers.tasks.manipulate", "manipulate", arguments)
    if wait > 0:
        job = wait_for(redis, job.id, wait)
        if jobs.public_status(job) in ("finished", "failed"):
            return finished_response(redis, job)
    return JSONResponse(jobs.accepted(job), status_code=202, headers={"Location": f"/jobs/{job.id}"})
