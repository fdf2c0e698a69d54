"""Per-client rate limit on POST and DELETE, counted in Redis so every API replica shares one budget.

A fixed one-minute window per client IP: simple, and at most twice the limit across a window boundary.
Behind a proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips so the client IP is the user's.
"""
from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis import Redis
from redis.exceptions import RedisError

from contract import keys

WINDOW_SECONDS = 60
LIMITED_METHODS = {"POST", "DELETE"}


def spend(redis: Redis, client: str, limit: int, now: float | None = None) -> int:
    """0 when the request may go ahead, else the seconds until the client's window resets."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = keys.rate_window(client, window)
    with redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 1)
        used = pipe.execute()[0]
    if used <= limit:
        return 0
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))


def install(app: FastAPI, redis: Redis, limit: int) -> None:
    if limit <= 0:
        return

    @app.middleware("http")
    async def limit_rate(request: Request, call_next):
        if request.method in LIMITED_METHODS:
            client = request.client.host if request.client else "unknown"
            try:
                wait = spend(redis, client, limit)
            except RedisError:  # no Redis: the route itself answers why; the limit cannot be enforced anyway
                wait = 0
            if wait:
                detail = f"rate limit: at most {limit} POST/DELETE requests per minute per client; retry after {wait} s"
                return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(wait)})
        return await call_next(request)
