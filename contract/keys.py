"""Redis key names and queue names."""
from __future__ import annotations

PREFIX = "d2c"
MANIPULATE_QUEUE, ATTRIBUTES_QUEUE, GENERATE_QUEUE = "manipulate", "attributes", "generate"
QUEUES = (ATTRIBUTES_QUEUE, MANIPULATE_QUEUE, GENERATE_QUEUE)  # attribute fits first: users wait on them
ATTRIBUTE_INDEX = f"{PREFIX}:attributes"  # set of every attribute name, built-in or user-defined


def upload(upload_id: str) -> str:
    return f"{PREFIX}:upload:{upload_id}"


def result(job_id: str, index: int) -> str:
    return f"{PREFIX}:result:{job_id}:{index}"


def attribute(name: str) -> str:
    return f"{PREFIX}:attribute:{name}"


def attribute_weights(name: str) -> str:
    return f"{PREFIX}:attribute:{name}:weights"


def attribute_info(name: str) -> str:
    return f"{PREFIX}:attribute:{name}:info"


def live_worker(worker_name: str) -> str:
    return f"{PREFIX}:worker:{worker_name}"


LIVE_WORKER_PATTERN = f"{PREFIX}:worker:*"


def job_latency(kind: str) -> str:
    return f"{PREFIX}:metrics:job_seconds:{kind}"


def rate_window(client: str, window: int) -> str:
    return f"{PREFIX}:rate:{client}:{window}"
