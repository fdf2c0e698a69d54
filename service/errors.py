"""Error bodies and statuses: the contract's domain errors mapped to HTTP, and every status declared in OpenAPI
so clients (and the schema fuzzer) know what a route gives."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contract.errors import (
    DomainError,
    JobNotFinished,
    NoSuchJob,
    NoSuchResult,
    QueueFull,
    UploadTooLarge,
    UploadUnreadable,
)

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
}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


class Error(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict | None = None


class InputError(BaseModel):
    """422: our own checks give a sentence, FastAPI's parameter validation a list of issues."""
    detail: str | list[ValidationIssue]


def responses(*codes: int) -> dict:
    """OpenAPI `responses` for these error statuses (429 with its Retry-After header)."""
    declared = {}
    for code in codes:
        declared[code] = {"model": InputError if code == 422 else Error, "description": DESCRIPTIONS[code]}
        if code == 429:
            declared[code]["headers"] = RETRY_AFTER_HEADER
    return declared


def status_of(error: DomainError) -> int:
    return next(status for kind, status in STATUS.items() if isinstance(error, kind))


async def domain_error_response(request: Request, error: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, QueueFull) else None
    return JSONResponse({"detail": error.message}, status_code=status_of(error), headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_response)
