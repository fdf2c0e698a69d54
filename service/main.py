"""The FastAPI app factory: routers, Redis, Prometheus metrics and the static UI at /."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter
from redis import Redis

from contract.settings import ApiSettings
from service import errors, rate_limit
from service.body_limit import BodyLimit
from service.metrics import RedisStateCollector
from service.routes import attributes, generate, health, jobs, manipulate
from service.waiters import Waiters

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
REDIS_TIMEOUT_SECONDS = 10


def _instrument(app: FastAPI, registry: CollectorRegistry) -> None:
    requests = Counter("d2c_http_requests_total", "HTTP requests by route template and status",
                       ["method", "route", "status"], registry=registry)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        requests.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).inc()
        return response


def _limit_body(app: FastAPI, settings: ApiSettings) -> None:
    """The whole body and each multipart part, counted as they stream in (chunked bodies included)."""
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_request_bytes,
                       part_limits={"examples": settings.max_zip_bytes}, default_part_limit=settings.max_upload_bytes)


def _allow_origins(app: FastAPI, origins: str) -> None:
    """Browsers on these origins may call the API; added last so even refusals carry the CORS headers."""
    allowed = [origin.strip() for origin in origins.split(",") if origin.strip()]
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["X-API-Key", "Content-Type"],
                           expose_headers=["Retry-After", "Location", "X-Job-Id", "X-Faces-Found",
                                           "X-Faces-Changed"])


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    app = FastAPI(
        title="D2C faces",
        summary="Edit faces by attribute from a handful of examples "
                "(D2C: diffusion-decoding models with contrastive representations)",
        version="0.1.0",
    )
    app.state.settings = settings
    # bounded socket waits: a Redis that stops answering gives 503s, not requests hanging for ever
    app.state.redis = Redis.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                     socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    app.state.waiters = Waiters(settings.max_waiters, settings.unavailable_retry_after)
    app.state.metrics = CollectorRegistry()
    app.state.metrics.register(RedisStateCollector(app.state.redis))
    errors.install(app, settings)
    _limit_body(app, settings)
    rate_limit.install(app, app.state.redis, settings.rate_limit)
    _instrument(app, app.state.metrics)
    _allow_origins(app, settings.cors_origins)
    for module in (manipulate, attributes, generate, jobs, health):
        app.include_router(module.router)
    if FRONTEND.is_dir():
        app.mount("/", StaticFiles(directory=FRONTEND, html=True), name="frontend")
    return app
