"""A cap on `?wait=` requests waiting at once in this API process: beyond it, 503 with Retry-After.

Waiting holds no thread (it awaits Redis), so the cap bounds open connections and Redis clients, not the thread
pool; the rest of the API stays responsive whatever the waiters do.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException


class Waiters:
    def __init__(self, limit: int, retry_after: int):
        self.limit, self.retry_after, self.count = limit, retry_after, 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Held for the whole waiting request; taken and given back on the event loop, so a plain count is safe."""
        if self.count >= self.limit:
            raise HTTPException(503, f"{self.count} requests are already waiting (?wait=), the limit is {self.limit}; "
                                     f"retry after {self.retry_after} s, or send the request without wait and poll "
                                     "its job", headers={"Retry-After": str(self.retry_after)})
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
