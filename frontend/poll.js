// Following a job: poll GET /jobs/{id} until it ends, and stop (saying so) once it has not ended within
// POLL_LIMIT_MS, instead of polling for ever. A job still queued after QUEUED_NOTICE_MS is said to be waiting for a
// worker. `api` and `sleep` come from app.js.
"use strict";

const POLL_MS = 300;
const POLL_LIMIT_MS = 10 * 60 * 1000;
const QUEUED_NOTICE_MS = 20 * 1000;

// onStatus(job, waitedMs) after every poll
async function pollJob(jobId, onStatus) {
  const start = Date.now();
  const deadline = start + POLL_LIMIT_MS;
  for (;;) {
    const job = await (await api(`/jobs/${jobId}`)).json();
    onStatus(job, Date.now() - start);
    if (job.status === "finished") return job;
    if (job.status === "failed") throw new Error(job.error || "the job failed");
    if (Date.now() >= deadline) {
      throw new Error(`job ${jobId} is still ${job.status} after ${POLL_LIMIT_MS / 60000} minutes; stopped `
        + `following it (the server is busy: GET /jobs/${jobId} later tells how it ended)`);
    }
    await sleep(POLL_MS);
  }
}

function jobStatusText(job, waitedMs) {
  if (job.status === "queued" && waitedMs >= QUEUED_NOTICE_MS) {
    return `Still queued after ${Math.round(waitedMs / 1000)} s: no worker has taken it yet (every worker is busy, `
      + "or none is running: /readyz tells). Waiting…";
  }
  return `Job ${job.status}…`;
}
