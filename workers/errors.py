"""Errors a job reports to the user as-is (a 4xx status), as opposed to crashes that are retried."""
from __future__ import annotations

STARTUP_FAILED = 3  # a worker process's exit status when restarting it cannot help (e.g. a bad checkpoint)


class JobInputError(ValueError):
    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status
