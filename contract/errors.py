"""Domain errors the contract raises; `service/` maps each to an HTTP status, `workers/` to a job failure."""
from __future__ import annotations


class DomainError(Exception):
    """`message` is what the client is told."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class QueueFull(DomainError):
    def __init__(self, queue: str, limit: int, retry_after: int):
        super().__init__(f"the {queue} queue is full ({limit} jobs waiting); retry after {retry_after} s")
        self.retry_after = retry_after


class NoSuchJob(DomainError):
    def __init__(self, job_id: str):
        super().__init__(f"no job {job_id!r} (unknown, or its results expired)")


class JobNotFinished(DomainError):
    """A result asked for while the job waits, runs, or after it failed."""


class NoSuchResult(DomainError):
    """The job finished but has no result at that index, or it expired."""


class UploadError(DomainError):
    """A refused image."""


class UploadTooLarge(UploadError):
    """Bytes or pixels over the limit, or a decompression bomb."""


class UploadUnreadable(UploadError):
    """Not a JPEG, PNG or WebP, corrupt, animated, too small, or with broken metadata."""
