"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from redis.exceptions import RedisError

from service.deps import RedisDep
from service.job_metrics import live_workers

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    status: str
    redis: bool
    workers: int
    detail: str | None = None


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "Redis unreachable or no worker ready"}})
def readyz(redis: RedisDep) -> JSONResponse:
    try:
        redis.ping()
        workers = live_workers(redis)
    except RedisError as error:
        return JSONResponse({"status": "unavailable", "redis": False, "workers": 0, "detail": f"Redis unreachable: {error}"}, 503)
    if workers == 0:
        return JSONResponse({"status": "unavailable", "redis": True, "workers": 0, "detail": "no worker has its models loaded"}, 503)
    return JSONResponse({"status": "ready", "redis": True, "workers": workers})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
