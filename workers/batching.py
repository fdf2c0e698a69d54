"""An RQ SimpleWorker (models stay loaded in-process) that runs waiting manipulate jobs as one batch.

When it takes a manipulate job it also claims up to batch_size - 1 more from the queue, marks them all
started (so a crash re-queues every one of them), computes them together, then lets RQ perform each
job normally; each job function just returns its precomputed outcome.
"""
from __future__ import annotations

from rq import Queue
from rq.job import Job
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker, WorkerStatus

from service import keys
from workers import tasks
from workers.orphans import expire_orphans


class BatchingWorker(SimpleWorker):
    batch_size = 8

    def run_maintenance_tasks(self):
        expire_orphans(self.connection, self.queues)  # then RQ's cleanup retries them now, not minutes later
        super().run_maintenance_tasks()

    def claim_waiting(self, queue: Queue, limit: int) -> list[Job]:
        claimed = []
        for job_id in queue.get_job_ids(0, limit) if limit > 0 else []:
            if self.connection.lrem(queue.key, 1, job_id):  # 1 only for the worker that removed it
                job = queue.fetch_job(job_id)
                if job is not None:
                    claimed.append(job)
        return claimed

    def execute_job(self, job: Job, queue: Queue):
        if queue.name != keys.MANIPULATE_QUEUE or self.batch_size <= 1:
            return super().execute_job(job, queue)
        batch = [job, *self.claim_waiting(queue, self.batch_size - 1)]
        executions = [self.prepare_execution(member) for member in batch]
        for member in batch[1:]:
            self.prepare_job_execution(member)
        edits = [tasks.Edit(member.id, **member.kwargs) for member in batch]
        timeout = max(member.timeout or queue.DEFAULT_TIMEOUT for member in batch)
        try:
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                tasks.prepare_batch(edits)
        except JobTimeoutException:
            self.log.warning("batch of %d manipulate jobs timed out; running them one by one", len(batch))
        except Exception:  # e.g. Redis briefly away: each job then runs (and fails or retries) on its own
            self.log.exception("batch of %d manipulate jobs failed; running them one by one", len(batch))
        for member, execution in zip(batch, executions):
            self.perform_job(member, queue, execution)
        tasks.forget_batch([member.id for member in batch])
        self.set_state(WorkerStatus.IDLE)
