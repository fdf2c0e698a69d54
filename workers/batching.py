"""An RQ SimpleWorker (models stay loaded in-process) that runs waiting manipulate jobs as one batch.

When it takes a manipulate job it also claims up to batch_size - 1 more from the queue and registers them all
as started, then computes them together and lets RQ perform each job normally; each job is handed its outcome
(`BatchedJob.prepared`), which its job function returns.

Claiming follows RQ's own dequeue protocol, so a worker killed at any instant loses nothing: LMOVE takes a job
id into the queue's intermediate list (one atomic step, so exactly one worker wins it), and one MULTI/EXEC then
creates its execution in the started registry and drops it from the intermediate list. A job is therefore always
in the queue, the intermediate list or the started registry. RQ's maintenance retries a job stranded in the
intermediate list; `workers.orphans` retries a started one whose worker has no heartbeat.
The first job of a batch comes from RQ's own dequeue, a BLPOP when a worker serves several queues: the
microseconds between that pop and its registration are RQ's window, not widened here.
"""
from __future__ import annotations

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker, WorkerStatus

from contract.payloads import ManipulatePayload
from workers import editing
from workers.orphans import expire_orphans
from workers.runtime import Runtime


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
    runtime: Runtime | None = None  # what batches run on; set by workers.process once the model is loaded

    def run_maintenance_tasks(self):
        expire_orphans(self.connection, self.queues)  # then RQ's cleanup retries them now, not minutes later
        super().run_maintenance_tasks()

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
        if queue.name != ManipulatePayload.QUEUE or self.batch_size <= 1 or self.runtime is None:
            return super().execute_job(job, queue)
        batch = [job, *self.claim_waiting(queue, self.batch_size - 1)]
        executions = [self.register_started(member, queue) for member in batch]
        outcomes = self.run_batch(batch, queue)
        for member, execution in zip(batch, executions, strict=True):
            member.prepared = outcomes.get(member.id)
            self.perform_job(member, queue, execution)
        self.set_state(WorkerStatus.IDLE)
