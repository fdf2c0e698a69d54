"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from contract.metrics import live_workers
from service import errors
from service.deps import MetricsDep, RedisDep
from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])
NOT_READY = {503: {"model": Readiness, "description": "Redis unreachable or no worker ready"}}


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=NOT_READY)
def readyz(redis: RedisDep) -> JSONResponse:
    try:
        redis.ping()
        workers = live_workers(redis)
    except RedisError as error:
        unreachable = Readiness(status="unavailable", redis=False, workers=0, detail=f"Redis unreachable: {error}")
        return JSONResponse(unreachable.model_dump(), 503)
    if workers == 0:
        idle = Readiness(status="unavailable", redis=True, workers=0, detail="no worker has its models loaded")
        return JSONResponse(idle.model_dump(), 503)
    return JSONResponse(Readiness(status="ready", redis=True, workers=workers).model_dump(exclude_none=True))


@router.get("/metrics", response_class=PlainTextResponse, responses=errors.responses())
def metrics(registry: MetricsDep) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
