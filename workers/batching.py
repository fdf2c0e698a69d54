"""An RQ SimpleWorker (models stay loaded in-process) that runs waiting manipulate jobs as one batch.

When it takes a manipulate job it also claims up to batch_size - 1 more from the queue and registers them all
as started, then computes them together and lets RQ perform each job normally; each job is handed its outcome
(`BatchedJob.prepared`), which its job function returns.

Claiming follows RQ's own dequeue protocol, so a worker killed at any instant loses nothing: LMOVE takes a job
id into the queue's intermediate list (one atomic step, so exactly one worker wins it), and one MULTI/EXEC then
creates its execution in the started registry and drops it from the intermediate list. A job is therefore always
in the queue, the intermediate list or the started registry. RQ's maintenance retries a job stranded in the
intermediate list; `workers.orphans` retries a started one whose worker has no heartbeat.

Logs say what happened and how long it took: maintenance is logged only when it cleaned something, and each job's
duration is measured here (a batched job's includes its batch's compute, which RQ's own "completed in" line,
dropped by `quiet_rq_durations`, would report as well under a millisecond).
The first job of a batch comes from RQ's own dequeue, a BLPOP when a worker serves several queues: the
microseconds between that pop and its registration are RQ's window, not widened here.
"""
from __future__ import annotations

import logging
import time

from rq import Queue, worker_registration
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.group import Group
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry, clean_registries
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from contract.payloads import ManipulatePayload
from workers import editing
from workers.orphans import expire_orphans
from workers.runtime import Runtime


class _DropRqDurations(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Successfully completed")


def quiet_rq_durations() -> None:
    """Drop RQ's "Successfully completed job ... in 0:00:00.0003s" lines; `BatchingWorker` logs measured ones."""
    rq_log = logging.getLogger("rq.worker")
    if not any(isinstance(existing, _DropRqDurations) for existing in rq_log.filters):
        rq_log.addFilter(_DropRqDurations())


def expired_entries(queue: Queue) -> dict[str, int]:
    """What RQ's registry cleanup is about to act on: expired finished and failed entries (removed), expired
    started ones (abandoned jobs, retried or failed), and ids waiting in the intermediate list."""
    registries = {"finished": FinishedJobRegistry, "failed": FailedJobRegistry, "abandoned": StartedJobRegistry}
    found = {label: len(registry(queue=queue).get_expired_job_ids()) for label, registry in registries.items()}
    found["intermediate"] = queue.connection.llen(queue.intermediate_queue_key)
    return {label: count for label, count in found.items() if count}


class BatchedJob(Job):
    """A job that may carry the outcome its batch computed: performing it passes that to the job function."""

    prepared: editing.EditOutcome | None = None

    def _execute(self):
        if self.prepared is None:
            return super()._execute()
        return self.func(*self.args, **self.kwargs, prepared=self.prepared)


class BatchingWorker(SimpleWorker):
    batch_size = 8
    job_class = BatchedJob
    log_result_lifespan = False  # "result is kept for 3600 s" after every job says nothing a reader needs
    runtime: Runtime | None = None  # what batches run on; set by workers.process once the model is loaded

    def run_maintenance_tasks(self):
        orphans = expire_orphans(self.connection, self.queues)  # RQ's cleanup then retries them now, not minutes later
        if orphans:
            self.log.info("maintenance: %d started job(s) of dead workers marked abandoned", orphans)
        super().run_maintenance_tasks()

    def clean_registries(self):
        """RQ's registry maintenance (one worker at a time per queue), logged only when it found something."""
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                found = expired_entries(queue)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                queue.release_maintenance_lock()
                if found:
                    self.log.info("maintenance of queue %s: %s", queue.name,
                                  ", ".join(f"{count} {label}" for label, count in found.items()))
        self.last_cleaned_at = now()

    def clean_group_registries(self):
        if Group.acquire_maintenance_lock(self.connection, max(int(self.maintenance_interval) - 1, 1)):
            Group.clean_registries(connection=self.connection)

    def log_duration(self, job: Job, seconds: float, batch_size: int = 1) -> None:
        batched = f" (computed in a batch of {batch_size})" if batch_size > 1 else ""
        status = job.get_status(refresh=False)
        self.log.info("job %s (%s) %s in %.3f s%s", job.id, job.meta.get("kind", job.origin),
                      getattr(status, "value", status), seconds, batched)

    def claim_waiting(self, queue: Queue, limit: int) -> list[Job]:
        """Move up to `limit` waiting job ids into the queue's intermediate list; returns their jobs."""
        claimed = []
        for _ in range(max(limit, 0)):
            job_id = self.connection.lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")
            if job_id is None:
                break
            try:
                job = self.job_class.fetch(job_id.decode(), connection=self.connection, serializer=self.serializer)
            except NoSuchJobError:  # deleted while waiting: nothing to run or to keep
                self.connection.lrem(queue.intermediate_queue_key, 1, job_id)
                continue
            claimed.append(job)
        return claimed

    def register_started(self, job: Job, queue: Queue) -> Execution:
        """In one transaction: the job's execution in the started registry, its status STARTED (RQ's cleanup
        retries only STARTED jobs), and its id out of the intermediate list."""
        with self.connection.pipeline() as pipeline:
            ttl = self.get_heartbeat_ttl(job)
            execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=self.name)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.persist(job.key)
            pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
            self.heartbeat(ttl, pipeline=pipeline)
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            pipeline.execute()
        self.executions[execution.id] = execution
        return execution

    def run_batch(self, batch: list[Job], queue: Queue) -> dict[str, editing.EditOutcome]:
        """Each job's outcome, or none when the batch as a whole timed out or crashed."""
        timeout = max(member.timeout or queue.DEFAULT_TIMEOUT for member in batch)
        try:
            edits = [editing.Edit(member.id, ManipulatePayload.model_validate(member.kwargs)) for member in batch]
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=batch[0].id):
                return editing.run_edits(self.runtime, edits)
        except JobTimeoutException:
            self.log.warning("batch of %d manipulate jobs timed out; running them one by one", len(batch))
        except Exception:  # e.g. Redis briefly away: each job then runs (and fails or retries) on its own
            self.log.exception("batch of %d manipulate jobs failed; running them one by one", len(batch))
        return {}

    def execute_job(self, job: Job, queue: Queue):
        started = time.monotonic()
        if queue.name != ManipulatePayload.QUEUE or self.batch_size <= 1 or self.runtime is None:
            super().execute_job(job, queue)
            self.log_duration(job, time.monotonic() - started)
            return
        batch = [job, *self.claim_waiting(queue, self.batch_size - 1)]
        executions = [self.register_started(member, queue) for member in batch]
        outcomes = self.run_batch(batch, queue)
        shared = time.monotonic() - started
        for member, execution in zip(batch, executions, strict=True):
            member.prepared = outcomes.get(member.id)
            began = time.monotonic()
            self.perform_job(member, queue, execution)
            self.log_duration(member, shared + time.monotonic() - began, len(batch))
        self.set_state(WorkerStatus.IDLE)
