"""Settings read from environment variables (pydantic-settings): a shared base, the API's and the workers'."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SharedSettings(BaseSettings):
    """What both sides read."""

    # an empty variable (compose passes `${NAME:-}` through) means unset, so the field keeps its default
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    redis_url: str = "redis://localhost:6379/0"
    max_upload_bytes: int = Field(10 * 1024 * 1024, gt=0)  # the workers re-check what they decode
    max_upload_pixels: int = Field(40_000_000, gt=0)
    # width x height x channels x bytes per channel, read from the header before any decoding: 160 MiB takes
    # every 8-bit RGB or RGBA image within max_upload_pixels; 16-bit images count double
    max_upload_decoded_bytes: int = Field(160 * 1024 * 1024, gt=0)
    result_ttl: int = Field(3600, gt=0)  # seconds finished jobs and their PNGs are kept


class ApiSettings(SharedSettings):
    api_key: str | None = None  # when set, every POST and DELETE needs header X-API-Key
    rate_limit: int = Field(120, ge=0)  # POST/DELETE requests per client IP per minute (0 = no limit)
    cors_origins: str = ""  # comma-separated origins allowed to call the API from a browser ("" = same origin only)

    max_examples: int = Field(500, gt=0)  # images per attribute definition
    max_zip_bytes: int = Field(200 * 1024 * 1024, gt=0)  # uncompressed total of an examples zip
    max_request_bytes: int = Field(256 * 1024 * 1024, gt=0)  # whole request body, refused before it is read

    upload_ttl: int = Field(3600, gt=0)  # seconds an uploaded image waits in Redis for a worker
    failed_ttl: int = Field(86400, gt=0)  # seconds failed jobs stay visible
    job_timeout: int = Field(300, gt=0)
    job_retries: int = Field(2, ge=0)  # re-runs after a crash or a dead worker
    queue_limit: int = Field(200, gt=0)  # waiting jobs per queue before POSTs get 429 with Retry-After
    queue_retry_after: int = Field(5, gt=0)  # the Retry-After (seconds) sent with a queue-full 429
    max_wait: float = Field(60.0, ge=0)  # longest ?wait= a request may hold a connection
    max_waiters: int = Field(100, ge=0)  # ?wait= requests waiting at once per API process; beyond it 503
    unavailable_retry_after: int = Field(5, gt=0)  # the Retry-After (seconds) sent with a 503

    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)


class WorkerSettings(SharedSettings):
    checkpoint: str = "checkpoints/celeba64"  # the API never loads it
    batch_size: int = Field(8, gt=0)  # manipulate jobs a worker runs as one batch
    manipulation_mode: Literal["paper", "fast"] = "paper"
    generate_budget_factor: int = Field(50, gt=0)  # prior draws per requested image before giving up
    # torch and ONNX Runtime CPU threads per worker: unset = (cores - 1) // worker processes, at least 1
    # (workers.threads); 0 = the libraries' own defaults (one per physical core in every process)
    worker_threads: int | None = Field(None, ge=0)


class Settings(ApiSettings, WorkerSettings):
    """Every setting, for a process that starts both sides: `make run`, the tests, the benchmarks."""
