"""Typed FastAPI dependencies: settings, the Redis connection, the metrics registry and the API-key guard."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from prometheus_client import CollectorRegistry
from redis import Redis

from contract.settings import ApiSettings


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


def get_metrics(request: Request) -> CollectorRegistry:
    return request.app.state.metrics


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
MetricsDep = Annotated[CollectorRegistry, Depends(get_metrics)]


def require_api_key(settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    if not settings.api_key:
        return
    if x_api_key is None:
        raise HTTPException(401, "this endpoint needs the X-API-Key header",
                            headers={"WWW-Authenticate": "X-API-Key"})
    if not secrets.compare_digest(x_api_key.encode(), settings.api_key.encode()):
        raise HTTPException(403, "the X-API-Key header is wrong")


ApiKeyDep = Annotated[None, Depends(require_api_key)]
