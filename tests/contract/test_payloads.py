"""Job payloads: one definition per kind, JSON arguments in the wire format queued jobs already use."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from contract import keys
from contract.payloads import KINDS, PAYLOADS, AttributePayload, Condition, GeneratePayload, ManipulatePayload


def test_each_kind_names_its_task_queue_and_kind():
    assert {payload.KIND: (payload.QUEUE, payload.TASK) for payload in PAYLOADS} == {
        "manipulate": (keys.MANIPULATE_QUEUE, "workers.tasks.manipulate"),
        "attribute": (keys.ATTRIBUTES_QUEUE, "workers.tasks.fit_attribute"),
        "generate": (keys.GENERATE_QUEUE, "workers.tasks.generate"),
    }
    assert set(KINDS) == {"manipulate", "attribute", "generate"}
    assert {payload.QUEUE for payload in PAYLOADS} == set(keys.QUEUES)


def test_conditions_travel_as_name_target_pairs_and_come_back_typed():
    conditions = [Condition("smiling", True), Condition("blond", False)]
    payload = ManipulatePayload(upload="d2c:upload:1", conditions=conditions)
    arguments = payload.arguments()
    assert arguments == {"upload": "d2c:upload:1", "conditions": [["smiling", True], ["blond", False]],
                         "strength": 1.0, "seed": 0, "crop": "face"}
    back = ManipulatePayload.model_validate(arguments)
    assert back == payload and back.conditions[0] == Condition(name="smiling", target=True)


def test_arguments_queued_before_the_contract_still_validate():
    queued = {"upload": "d2c:upload:2", "conditions": [["smiling", True]], "strength": 1.5, "seed": 3, "crop": "none"}
    assert ManipulatePayload.model_validate(queued).arguments() == queued


@pytest.mark.parametrize("payload, uploads", [
    (ManipulatePayload(upload="u", conditions=[]), ["u"]),
    (AttributePayload(name="freckles", positive=["p1", "p2"], negative=["n1"]), ["p1", "p2", "n1"]),
    (GeneratePayload(conditions=[Condition("smiling", True)], count=2), []),
])
def test_upload_keys_name_every_upload_a_job_reads(payload, uploads):
    assert payload.upload_keys() == uploads


@pytest.mark.parametrize("arguments", [
    {"upload": "u", "conditions": [["smiling", True]], "crop": "oval"},
    {"upload": "u", "conditions": [["smiling", True]], "colour": "red"},
    {"upload": "u", "conditions": [["smiling"]]},
])
def test_malformed_arguments_are_refused(arguments):
    with pytest.raises(ValidationError):
        ManipulatePayload.model_validate(arguments)
