"""The edit path with several faces: one model batch, each face pasted back in turn, a kept face untouched, and the
job's `faces` report. The model is replaced by a stand-in that brightens a patch of each frame."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from contract.payloads import Condition, ManipulatePayload
from contract.settings import WorkerSettings
from faces.detection import Face
from tests.images import encoded
from tests.workers.test_framing import FoundFaces, face_at
from workers import editing
from workers.editing import KEPT, NO_CHANGE, Edit, run_edits

RESOLUTION = 32


class MemoryRedis:
    """The few Redis calls the edit path makes, in a dict."""

    def __init__(self):
        self.values: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self.values[key] = value

    def pipeline(self):
        return self

    def execute(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class Identity:
    def __init__(self):
        self.measured: list[Face] = []

    def identity_distance(self, before: np.ndarray, after: np.ndarray, face: Face) -> float:
        self.measured.append(face)
        return 0.25


class Env:
    """What the edit path reads from a worker's Runtime."""

    resolution = RESOLUTION

    def __init__(self, *faces: Face):
        self.redis, self.settings = MemoryRedis(), WorkerSettings()
        self.faces, self.identity, self.model = FoundFaces(*faces), Identity(), None

    def conditions(self, conditions: list[Condition]) -> list:
        return [(None, condition.target) for condition in conditions]


class StandInModel:
    """Replaces the model: each frame's edit is the frame with a bright patch, except the frames listed in `keep`."""

    def __init__(self):
        self.batches: list[int] = []
        self.keep: list[int] = []

    def edit_images(self, model, images, conditions, settings, mode, seed):
        kept = torch.zeros(len(images), dtype=torch.bool)
        kept[self.keep] = True
        after = images.clone()
        after[:, :, 12:20, 12:20] = (after[:, :, 12:20, 12:20] + 0.4).clamp(0, 1)
        after[kept] = images[kept]
        self.batches.append(len(images))
        return images.clone(), after, kept


@pytest.fixture
def stand_in(monkeypatch) -> StandInModel:
    model = StandInModel()
    monkeypatch.setattr(editing, "edit_images", model.edit_images)
    monkeypatch.setattr(editing, "default_settings", lambda conditions, strength: None)
    return model


def upload(env: Env, key: str = "upload:1", height: int = 300, width: int = 400) -> np.ndarray:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    env.redis.set(key, encoded(Image.fromarray(pixels)))
    return pixels


def result(env: Env, outcome: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(env.redis.get(outcome["results"][0]))).convert("RGB"))


def manipulate(env: Env, job_id: str = "job1", key: str = "upload:1", **options) -> dict:
    payload = ManipulatePayload(upload=key, conditions=[Condition("smiling", True)], **options)
    outcome = run_edits(env, [Edit(job_id, payload)])[job_id]
    assert not isinstance(outcome, Exception), outcome
    return outcome


LEFT, RIGHT = face_at(20, 40, 140), face_at(220, 60, 120)


def test_every_face_is_edited_in_one_batch_and_reported(stand_in):
    env = Env(LEFT, RIGHT)
    pixels = upload(env)
    outcome = manipulate(env)
    assert stand_in.batches == [2] and outcome["batch_size"] == 2
    edited = result(env, outcome)
    assert not np.array_equal(edited[40:180, 20:160], pixels[40:180, 20:160])  # the left face
    assert not np.array_equal(edited[60:180, 220:340], pixels[60:180, 220:340])  # the right face
    assert np.array_equal(edited[:, 360:], pixels[:, 360:]) and np.array_equal(edited[220:], pixels[220:])
    assert [face["box"] for face in outcome["faces"]] == [[20, 40, 140, 140], [220, 60, 120, 120]]
    first = outcome["faces"][0]
    assert first["aligned"] and first["changed"] and first["identity_distance"] == 0.25 and first["note"] is None
    assert np.allclose(first["landmarks"], LEFT.landmarks, atol=0.05) and len(first["landmarks"]) == 5
    assert env.identity.measured == [LEFT, RIGHT]


def test_faces_largest_edits_only_the_largest(stand_in):
    env = Env(LEFT, RIGHT)
    pixels = upload(env)
    outcome = manipulate(env, faces="largest")
    assert stand_in.batches == [1] and [face["box"] for face in outcome["faces"]] == [[20, 40, 140, 140]]
    assert np.array_equal(result(env, outcome)[60:180, 220:340], pixels[60:180, 220:340])


def test_a_kept_face_is_not_pasted_and_says_why(stand_in):
    stand_in.keep = [0]  # the first (largest) face already has the attribute
    env = Env(LEFT, RIGHT)
    pixels = upload(env)
    outcome = manipulate(env)
    edited = result(env, outcome)
    assert np.array_equal(edited[:, :180], pixels[:, :180])  # the kept left face, byte for byte
    assert not np.array_equal(edited[60:180, 220:340], pixels[60:180, 220:340])
    kept, changed = outcome["faces"]
    assert (kept["changed"], kept["identity_distance"], kept["note"]) == (False, None, KEPT)
    assert changed["changed"] and changed["note"] is None


def test_all_faces_kept_returns_the_photo_byte_identical(stand_in):
    stand_in.keep = [0, 1]
    env = Env(LEFT, RIGHT)
    pixels = upload(env)
    outcome = manipulate(env)
    assert np.array_equal(result(env, outcome), pixels)
    assert [face["changed"] for face in outcome["faces"]] == [False, False]


def test_a_plain_crop_is_one_unaligned_entry(stand_in):
    env = Env()  # no face to measure identity on
    upload(env, height=60, width=90)
    outcome = manipulate(env, crop="center")
    assert outcome["faces"] == [{"box": [15, 0, 60, 60], "landmarks": None, "aligned": False, "changed": True,
                                 "identity_distance": None, "note": None}]


def test_an_edit_that_changes_nothing_says_so(monkeypatch):
    monkeypatch.setattr(editing, "edit_images", lambda model, images, *args, **kwargs: (
        images, images.clone(), torch.zeros(len(images), dtype=torch.bool)))
    monkeypatch.setattr(editing, "default_settings", lambda conditions, strength: None)
    env = Env(LEFT)
    pixels = upload(env)
    outcome = manipulate(env)
    assert np.array_equal(result(env, outcome), pixels) and outcome["faces"][0]["note"] == NO_CHANGE


def test_no_face_with_crop_face_fails_the_job_only(stand_in):
    env = Env()
    upload(env)
    payload = ManipulatePayload(upload="upload:1", conditions=[Condition("smiling", True)])
    outcome = run_edits(env, [Edit("job1", payload)])["job1"]
    assert "no face found" in outcome.message and stand_in.batches == []


def test_faces_option_is_validated_and_travels_only_when_not_the_default():
    payload = ManipulatePayload(upload="u", conditions=[Condition("smiling", True)])
    assert payload.faces == "all" and "faces" not in payload.arguments()
    largest = ManipulatePayload(upload="u", conditions=[], faces="largest")
    assert ManipulatePayload.model_validate(largest.arguments()).faces == "largest"
    with pytest.raises(ValidationError):
        ManipulatePayload(upload="u", conditions=[], faces="biggest")
