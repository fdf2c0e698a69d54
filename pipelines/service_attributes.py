"""Define attributes the way a user does: `POST /attributes` to the service, then read back what the worker fitted.

`local_service` starts `make run`'s stack (embedded Redis, one worker, the API) on a free port with its Redis in
a temporary folder; `define` posts labelled images and waits until the attribute is ready; `fitted_classifier`
reads the classifier the worker stored, so an evaluation judges exactly what the service edits with.
"""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from redis import Redis

from contract import attributes
from model.attributes import AttributeClassifier

START_SECONDS = 600  # the worker loads the model and warms up first
FIT_SECONDS = 300


class ServiceError(RuntimeError):
    """The service did not start, or refused or failed a definition; the message has its answer."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_service(checkpoint: str | Path) -> Iterator[tuple[str, str]]:
    """(API URL, Redis URL) of a `python -m service.launch` stack serving `checkpoint`, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="d2c-eval-") as directory:
        port = _free_port()
        environment = {**os.environ, "REDIS_DATA_DIR": directory, "PORT": str(port),
                       "CHECKPOINT": str(checkpoint), "RATE_LIMIT": "0"}
        environment.pop("REDIS_URL", None)
        log_path = Path(directory) / "service.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "service.launch"], env=environment, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServiceError(f"the service did not become ready: {_tail(log_path)}")
                time.sleep(1)
            yield url, f"unix://{directory}/redis.sock"
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else "(no log)"


def png(image: np.ndarray) -> bytes:
    """An HxWx3 uint8 image as PNG bytes, as a user would upload it."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def define(url: str, name: str, positive: list[bytes], negative: list[bytes], mirror: bool = True,
           poll_seconds: float = 0.1) -> dict:
    """POST /attributes with the examples and wait for the fit; returns GET /attributes/{name} once ready, with
    `define_to_ready_seconds` (POST sent to ready seen) added."""
    files = [("positive", (f"p{i}.png", data, "image/png")) for i, data in enumerate(positive)]
    files += [("negative", (f"n{i}.png", data, "image/png")) for i, data in enumerate(negative)]
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
        started = time.perf_counter()
        answer = client.post("/attributes", data={"name": name, "mirror": str(mirror).lower()}, files=files)
        if answer.status_code != 202:
            raise ServiceError(f"POST /attributes {name}: {answer.status_code} {answer.text}")
        while time.perf_counter() - started < FIT_SECONDS:
            record = client.get(f"/attributes/{name}").json()
            if record["status"] == attributes.READY:
                record["define_to_ready_seconds"] = time.perf_counter() - started
                return record
            if record["status"] != attributes.TRAINING:
                raise ServiceError(f"attribute {name}: {record['status']}: {record.get('error')}")
            time.sleep(poll_seconds)
    raise ServiceError(f"attribute {name} was not ready after {FIT_SECONDS} s")


def fitted_classifier(redis_url: str, name: str) -> AttributeClassifier:
    """The classifier the worker stored for a ready user attribute."""
    stored = attributes.read_weights(Redis.from_url(redis_url), name)
    if stored is None:
        raise ServiceError(f"attribute {name} has no stored weights")
    _, weights, info = stored
    return AttributeClassifier.from_bytes(weights, info)
