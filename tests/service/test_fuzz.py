"""Schema fuzzing: schemathesis generates requests for every operation in /openapi.json and sends them to the app
in-process (ASGI) with a real Redis; no answer may be a 5xx and every one must match the documented schema.

No worker runs, so accepted jobs just wait; a small QUEUE_LIMIT keeps the queues bounded (beyond it: 429).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contract import keys
from service.main import create_app
from tests.deployment import embedded_redis, make_settings, publish_builtins

EXAMPLES_PER_OPERATION = 260  # 8 operations take parameters (2,080 requests); 4 take none (one each)
MINIMUM_REQUESTS = 2000


@pytest.fixture()
def fuzzed_app(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    settings = make_settings(url, checkpoint, queue_limit=20, max_wait=0.2)
    publish_builtins(settings, server)  # so generated attr= values can name real attributes
    server.set(keys.live_worker("fuzz-stand-in"), "1")  # /readyz answers 200, not its documented no-worker 503
    yield create_app(settings)
    server.shutdown()


def fuzz(operation, sent: dict[str, int]):
    """Send the operation's generated requests, counting them in `sent` under its label."""

    # derandomized: the same requests on every run, so a failure reproduces
    @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=operation.as_strategy())
    def check(case):
        sent[operation.label] = sent.get(operation.label, 0) + 1
        # schema-valid is not enough to be accepted: random bytes are no photo, so 4xx answers are right there
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    check()


def test_generated_requests_get_no_5xx_and_match_the_schema(fuzzed_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        fuzz(result.ok(), sent)
    assert len(sent) == 12, sorted(sent)
    assert sum(sent.values()) >= MINIMUM_REQUESTS, sent
