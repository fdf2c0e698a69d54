"""The UI's job polling (frontend/poll.js) run in Node with a fake clock: it follows a job to its end, says so when
the job waits in the queue past a limit, and stops, saying so, when the job has not ended within the limit instead of
polling for ever."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.deployment import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (apt-get install -y nodejs)")

HARNESS = """
const vm = require("vm");
const fs = require("fs");
const [source, statuses] = [fs.readFileSync(process.argv[1], "utf8"), JSON.parse(process.argv[2])];
let clock = 0, polls = 0;
const context = {
  Date: { now: () => clock },
  api: async () => ({ json: async () => ({ status: statuses[Math.min(polls++, statuses.length - 1)] }) }),
  sleep: async (ms) => { clock += ms; },
};
vm.createContext(context);
vm.runInContext(source + "\\nthis.pollJob = pollJob; this.jobStatusText = jobStatusText;", context);
const shown = [];
context.pollJob("job1", (job, waited) => shown.push(context.jobStatusText(job, waited))).then(
  (job) => console.log(JSON.stringify({ ended: job.status, polls, minutes: clock / 60000, shown })),
  (error) => console.log(JSON.stringify({ error: error.message, polls, minutes: clock / 60000, shown })),
);
"""


def follow(statuses: list[str]) -> dict:
    result = subprocess.run([NODE, "-e", HARNESS, str(ROOT / "frontend" / "poll.js"), json.dumps(statuses)],
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_a_job_is_followed_to_its_end():
    assert follow(["queued", "started", "finished"]) == {
        "ended": "finished", "polls": 3, "minutes": 0.01, "shown": ["Job queued…", "Job started…", "Job finished…"]}


def test_a_job_queued_past_the_notice_limit_says_it_waits_for_a_worker():
    outcome = follow(["queued"] * 80 + ["started"] * 10 + ["finished"])  # 24 s queued at one poll per 0.3 s
    notices = [index for index, text in enumerate(outcome["shown"]) if "no worker has taken it yet" in text]
    assert notices == list(range(67, 80))  # from 20 s on, only while queued
    assert outcome["shown"][67].startswith("Still queued after 20 s")
    assert outcome["shown"][80] == "Job started…"


def test_polling_stops_after_the_limit_and_says_so():
    outcome = follow(["queued"])  # a job that never ends
    assert "job job1 is still queued after 10 minutes; stopped following it" in outcome["error"]
    assert 9.9 <= outcome["minutes"] <= 10.1 and outcome["polls"] == 2001
