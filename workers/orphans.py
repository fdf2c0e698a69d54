"""Jobs left "started" by a worker that died (SIGKILL, OOM, power loss) are retried within seconds.

RQ alone notices such a job only when its started-registry entry expires (the job's heartbeat TTL, at least
60 s) and some worker next runs maintenance (every 10 minutes by default). Our workers keep a 15 s liveness
key (`workers.heartbeat`), so an entry whose worker has no live key is marked expired at once and RQ's own
cleanup then re-queues it (or fails it with the reason when no retries are left).
"""
from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.executions import Execution

from contract import keys


def expire_orphans(redis: Redis, queues: list[Queue]) -> int:
    """Mark started entries whose worker is gone as expired; returns how many were marked."""
    marked = 0
    for queue in queues:
        registry = queue.started_job_registry
        for member in redis.zrange(registry.key, 0, -1):
            execution = Execution.from_composite_key(member.decode(), redis)
            worker_name = redis.hget(execution.key, "worker_name")
            if not worker_name:  # execution hash already expired: RQ's own TTL handles it
                continue
            if not redis.exists(keys.live_worker(worker_name.decode())):
                redis.zadd(registry.key, {member: 0}, xx=True)
                marked += 1
    return marked
