"""A short-lived Redis key per worker with models loaded: /readyz and the live-workers gauge count them."""
from __future__ import annotations

import contextlib
import threading

from redis import Redis
from redis.exceptions import RedisError

from contract import keys

TTL_SECONDS = 15
INTERVAL_SECONDS = 5


class Heartbeat(threading.Thread):
    def __init__(self, redis: Redis, worker_name: str):
        super().__init__(daemon=True, name="heartbeat")
        self.redis = redis
        self.key = keys.live_worker(worker_name)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(RedisError):  # Redis briefly away: the key expires and readiness says so
                self.redis.set(self.key, "1", ex=TTL_SECONDS)
            self.stopped.wait(INTERVAL_SECONDS)

    def stop(self) -> None:
        self.stopped.set()
        self.redis.delete(self.key)
