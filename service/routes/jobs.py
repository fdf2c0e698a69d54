"""GET /jobs/{id} and its PNG results."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from contract import jobs
from service import errors
from service.deps import RedisDep
from service.schemas import JobView

router = APIRouter(tags=["jobs"])
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
PNG = {200: {"content": {"image/png": {}}}}


@router.get("/jobs/{job_id}", responses=errors.responses(404, 422))
def job_status(redis: RedisDep, job_id: JobId) -> JobView:
    return JobView.of(jobs.status(redis, job_id))


@router.get("/jobs/{job_id}/result/{index}", responses={**PNG, **errors.responses(404, 409, 422)})
def job_result_at(redis: RedisDep, job_id: JobId, index: Annotated[int, Path(ge=0)]) -> Response:
    return Response(jobs.result(redis, job_id, index), media_type="image/png")


@router.get("/jobs/{job_id}/result", responses={**PNG, **errors.responses(404, 409, 422)})
def job_result(redis: RedisDep, job_id: JobId) -> Response:
    return job_result_at(redis, job_id, 0)
