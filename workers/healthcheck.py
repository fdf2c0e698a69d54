"""Container healthcheck: exit 0 when a worker on this host has a fresh heartbeat (its model is loaded)."""
from __future__ import annotations

import socket
import sys

from redis import Redis

from contract import keys
from contract.settings import WorkerSettings


def main() -> int:
    redis = Redis.from_url(WorkerSettings().redis_url, socket_timeout=5)
    mine = redis.keys(keys.live_worker(f"{socket.gethostname()}-*"))
    return 0 if mine else 1


if __name__ == "__main__":
    sys.exit(main())
