"""Error bodies and statuses: the contract's domain errors mapped to HTTP, Redis outages to 503, and every status
declared in OpenAPI so clients (and the schema fuzzer) know what a route gives."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError

from contract.errors import (
    DomainError,
    JobNotFinished,
    NoSuchJob,
    NoSuchResult,
    QueueFull,
    UploadTooLarge,
    UploadUnreadable,
)
from contract.settings import ApiSettings

STATUS: dict[type[DomainError], int] = {
    QueueFull: 429, NoSuchJob: 404, JobNotFinished: 409, NoSuchResult: 404, UploadTooLarge: 413, UploadUnreadable: 422,
}

DESCRIPTIONS = {
    400: "malformed multipart body, or more than 1000 files or fields in it",
    401: "X-API-Key header missing", 403: "X-API-Key wrong, or a built-in attribute is read-only",
    404: "unknown attribute or job, or an expired result", 409: "attribute not ready, or job not finished",
    410: "the upload expired before a worker took the job", 413: "upload too large (bytes, pixels, examples)",
    422: "unreadable input or bad parameter", 429: "queue full or rate limit reached; see Retry-After",
    500: "the job crashed on every retry (only with ?wait=)",
    503: "Redis unreachable, or too many requests waiting (?wait=); see Retry-After",
}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


class Error(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict | None = None


class InputError(BaseModel):
    """422: our own checks give a sentence, FastAPI's parameter validation a list of issues."""
    detail: str | list[ValidationIssue]


def responses(*codes: int) -> dict:
    """OpenAPI `responses` for these error statuses, and the 503 every route can give (429 and 503 with their
    Retry-After header)."""
    declared = {}
    for code in (*codes, 503):
        declared[code] = {"model": InputError if code == 422 else Error, "description": DESCRIPTIONS[code]}
        if code in (429, 503):
            declared[code]["headers"] = RETRY_AFTER_HEADER
    return declared


def status_of(error: DomainError) -> int:
    return next(status for kind, status in STATUS.items() if isinstance(error, kind))


async def domain_error_response(request: Request, error: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, QueueFull) else None
    return JSONResponse({"detail": error.message}, status_code=status_of(error), headers=headers)


def _issue(error: dict[str, Any]) -> dict[str, Any]:
    """A validation issue without the value that failed: a client's own input is never echoed back."""
    issue = {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
    if error.get("ctx"):
        issue["ctx"] = {key: str(value) for key, value in error["ctx"].items()}
    return issue


async def validation_error_response(request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": [_issue(issue) for issue in error.errors()]}, status_code=422)


def install(app: FastAPI, settings: ApiSettings) -> None:
    async def redis_unavailable(request: Request, error: RedisError) -> JSONResponse:
        detail = f"the job store (Redis) is unavailable: {type(error).__name__}; retry after " \
                 f"{settings.unavailable_retry_after} s"
        return JSONResponse({"detail": detail}, status_code=503,
                            headers={"Retry-After": str(settings.unavailable_retry_after)})

    app.add_exception_handler(DomainError, domain_error_response)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(RedisError, redis_unavailable)
