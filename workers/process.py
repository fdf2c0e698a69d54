"""One worker process: load the model once, announce built-ins and liveness, then serve RQ jobs."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import uuid

import torch
from redis import Redis
from rq.serializers import JSONSerializer

from contract import keys
from contract.settings import WorkerSettings
from model.checkpoint import CheckpointError
from workers import runtime
from workers.batching import BatchingWorker, quiet_rq_durations
from workers.errors import STARTUP_FAILED
from workers.heartbeat import Heartbeat
from workers.onnx_backend import BACKENDS, chosen_backend
from workers.threads import chosen_threads

MAINTENANCE_SECONDS = 10
log = logging.getLogger("workers.process")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers.process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")
    settings = WorkerSettings()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        log.error("cannot start: --device %s but torch sees no CUDA GPU", args.device)
        sys.exit(STARTUP_FAILED)
    if settings.worker_threads is None:  # started on its own, not by `python -m workers`: the share of one process
        settings = settings.model_copy(update={"worker_threads": chosen_threads(1)})
    if settings.worker_threads:
        torch.set_num_threads(settings.worker_threads)
    # redis-py 8 reads with a 5 s timeout by default, shorter than RQ's blocking dequeue: every idle wait then
    # failed and RQ backed off for up to 60 s while jobs waited
    redis = Redis.from_url(settings.redis_url, socket_timeout=MAINTENANCE_SECONDS + 30)
    backend = chosen_backend(args.backend, settings.checkpoint, args.device)
    try:
        env = runtime.Runtime(settings, redis, args.device, backend)
    except (CheckpointError, FileNotFoundError, RuntimeError) as error:
        log.error("cannot start: %s", error)
        sys.exit(STARTUP_FAILED)
    runtime.install(env)
    env.publish_builtins()
    name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    # short dequeue timeout and maintenance interval: idle workers look for dead workers' jobs every few seconds
    worker = BatchingWorker(list(keys.QUEUES), connection=redis, serializer=JSONSerializer, name=name,
                            worker_ttl=MAINTENANCE_SECONDS + 15, maintenance_interval=MAINTENANCE_SECONDS)
    worker.batch_size = settings.batch_size
    quiet_rq_durations()
    worker.runtime = env
    heartbeat = Heartbeat(redis, name)
    heartbeat.start()
    log.info("worker %s ready: %s on %s (%s, %d CPU threads), built-ins %s", name, settings.checkpoint, args.device,
             backend, torch.get_num_threads(), ", ".join(env.builtins) or "none")
    try:
        worker.work(burst=args.burst, logging_level="INFO")
    finally:
        heartbeat.stop()


if __name__ == "__main__":
    main()
