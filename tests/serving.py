"""What an in-process TestClient cannot show: the app served over real HTTP by uvicorn in a thread of the test
process (many concurrent connections), and a body streamed to the app without a Content-Length (chunked)."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app) -> Iterator[str]:
    """The base URL while uvicorn serves `app`; open connections are closed within 2 s of leaving."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def post_streamed(app, path: str, query: str, content_type: str, chunks: Iterator[bytes]) -> tuple[int, dict, int]:
    """POST a body to the ASGI app as a stream of `http.request` messages with no Content-Length, as a server
    hands on a chunked upload; returns the status, the JSON answer and how many body bytes the app took."""
    taken, messages = 0, []
    body = iter(chunks)

    async def receive():
        nonlocal taken
        chunk = next(body, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"content-type", content_type.encode()), (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(message for message in messages if message["type"] == "http.response.start")
    answer = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return start["status"], json.loads(answer), taken
