// Following a job: poll GET /jobs/{id} until it ends, and stop (saying so) once it has not ended within
// POLL_LIMIT_MS, instead of polling for ever. `api` and `sleep` come from app.js.
"use strict";

const POLL_MS = 300;
const POLL_LIMIT_MS = 10 * 60 * 1000;

async function pollJob(jobId, onStatus) {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const job = await (await api(`/jobs/${jobId}`)).json();
    onStatus(job);
    if (job.status === "finished") return job;
    if (job.status === "failed") throw new Error(job.error || "the job failed");
    if (Date.now() >= deadline) {
      throw new Error(`job ${jobId} is still ${job.status} after ${POLL_LIMIT_MS / 60000} minutes; stopped `
        + `following it (the server is busy: GET /jobs/${jobId} later tells how it ended)`);
    }
    await sleep(POLL_MS);
  }
}
