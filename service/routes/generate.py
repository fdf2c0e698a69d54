"""POST /generate: queue conditional generation of n new faces."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service import errors, jobs, keys
from service.conditions import parse_conditions
from service.deps import ApiKeyDep, RedisDep, SettingsDep

router = APIRouter(tags=["generate"])


@router.post("/generate", status_code=202, responses=errors.responses(401, 403, 404, 409, 413, 422, 429))
def generate(
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    attr: Annotated[list[str], Query(min_length=1, description="attribute the faces must have; -NAME must not")],
    n: Annotated[int, Query(ge=1, le=64, description="how many faces")] = 8,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
):
    conditions = parse_conditions(redis, attr)
    arguments = {"conditions": conditions, "count": n, "seed": seed}
    job = jobs.enqueue(redis, settings, keys.GENERATE_QUEUE, "workers.tasks.generate", "generate", arguments)
    return JSONResponse(jobs.accepted(job), status_code=202, headers={"Location": f"/jobs/{job.id}"})
