"""POST /generate: queue conditional generation of n new faces."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from contract import jobs
from contract.payloads import GeneratePayload
from service import errors
from service.conditions import parse_conditions
from service.deps import ApiKeyDep, RedisDep, SettingsDep
from service.schemas import Accepted

router = APIRouter(tags=["generate"])


@router.post("/generate", status_code=202, responses=errors.responses(401, 403, 404, 409, 413, 422, 429))
def generate(
    redis: RedisDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    response: Response,
    attr: Annotated[list[str], Query(min_length=1, description="attribute the faces must have; -NAME must not")],
    n: Annotated[int, Query(ge=1, le=64, description="how many faces")] = 8,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Accepted:
    payload = GeneratePayload(conditions=parse_conditions(redis, attr), count=n, seed=seed)
    state = jobs.enqueue(redis, settings, payload)
    response.headers["Location"] = f"/jobs/{state.id}"
    return Accepted.of(state)
