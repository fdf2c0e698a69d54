"""GET /jobs/{id} and its PNG results."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from service import errors, jobs
from service.deps import RedisDep

router = APIRouter(tags=["jobs"])
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("/jobs/{job_id}", responses=errors.responses(404, 422))
def job_status(redis: RedisDep, job_id: JobId) -> dict:
    return jobs.describe(jobs.fetch(redis, job_id))


@router.get("/jobs/{job_id}/result/{index}", responses={200: {"content": {"image/png": {}}}, **errors.responses(404, 409, 422)})
def job_result_at(redis: RedisDep, job_id: JobId, index: Annotated[int, Path(ge=0)]) -> Response:
    job = jobs.fetch(redis, job_id)
    status = jobs.public_status(job)
    if status == "failed":
        raise HTTPException(409, f"job {job_id} failed: {jobs.error_message(job)}")
    if status != "finished":
        raise HTTPException(409, f"job {job_id} is {status}; poll /jobs/{job_id} until it is finished")
    results = jobs.result_keys(job)
    if not results:
        raise HTTPException(404, f"job {job_id} ({job.meta.get('kind')}) has no image results")
    if index >= len(results):
        raise HTTPException(404, f"job {job_id} has {len(results)} results (0 to {len(results) - 1}), not {index}")
    png = redis.get(results[index])
    if png is None:
        raise HTTPException(404, f"result {index} of job {job_id} has expired")
    return Response(png, media_type="image/png")


@router.get("/jobs/{job_id}/result", responses={200: {"content": {"image/png": {}}}, **errors.responses(404, 409, 422)})
def job_result(redis: RedisDep, job_id: JobId) -> Response:
    return job_result_at(redis, job_id, 0)
