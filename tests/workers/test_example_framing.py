"""Attribute examples are framed like edited photos: aligned when a face is found, the centre square for a close-up
without one, refused otherwise; the counts are recorded and refusals named when they leave too few examples."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from contract.payloads import AttributePayload
from model.attributes import AttributeDefinitionError
from tests.images import encoded
from tests.workers.test_every_face import Env
from tests.workers.test_framing import face_at
from workers import fitting
from workers.fitting import fit_classifier

FACE_MARK = 255  # the stand-in detector finds a face in photos whose top-left pixel is this bright


class MarkedFaces:
    def find(self, image: np.ndarray, min_side: int = 0, max_side: int = 0) -> list:
        height, width = image.shape[:2]
        return [face_at(width / 4, height / 4, width / 2)] if image[0, 0, 0] == FACE_MARK else []


class Encoder:
    """Stands in for the model's encoder: a latent that separates bright from dark examples."""

    device = "cpu"

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(len(images))
        noise = torch.randn(len(images), 2, 2, 2, generator=generator) * 0.1
        return images.mean(dim=(1, 2, 3))[:, None, None, None] * 4 + noise


@pytest.fixture
def env() -> Env:
    env = Env()
    env.faces, env.model = MarkedFaces(), Encoder()
    env.latent_covariance = env.teacher = lambda: None
    env.skin_readout, env.has_pool = None, False  # no pool: no strength tuning
    return env


def example(env: Env, key: str, size: int, face: bool, brightness: int) -> str:
    pixels = np.random.default_rng(len(env.redis.values)).integers(0, 40, (size, size, 3), dtype=np.uint8)
    pixels = (pixels + brightness).astype(np.uint8)
    pixels[0, 0] = FACE_MARK if face else 0
    env.redis.set(key, encoded(Image.fromarray(pixels)))
    return key


def test_each_example_is_aligned_falls_back_or_is_refused(env):
    close_up_limit = fitting.CLOSE_UP * env.resolution
    positives = [example(env, "p1", 200, True, 200), example(env, "p2", 64, False, 200),
                 example(env, "p3", close_up_limit, False, 200), example(env, "p4", close_up_limit + 1, False, 200)]
    negatives = [example(env, "n1", 300, True, 20), example(env, "n2", 300, True, 20),
                 example(env, "n3", 64, False, 20)]
    payload = AttributePayload(name="bright", positive=positives, negative=negatives)
    classifier, counts = fit_classifier(env, payload)
    assert counts == {"aligned": 3, "center_fallback": 3, "refused": 1}
    assert classifier.metadata["positives"] == 3 and classifier.metadata["negatives"] == 3


def test_plain_crops_count_nothing(env):
    payload = AttributePayload(name="bright", crop="center", positive=[example(env, "p1", 300, False, 200),
                               example(env, "p2", 300, False, 200)],
                               negative=[example(env, "n1", 300, False, 20), example(env, "n2", 300, False, 20)])
    _, counts = fit_classifier(env, payload)
    assert counts == {"aligned": 0, "center_fallback": 0, "refused": 0}


def test_refusals_that_leave_too_few_examples_are_named(env):
    positives = [example(env, f"p{i}", 400, False, 200) for i in range(3)]
    negatives = [example(env, f"n{i}", 300, True, 20) for i in range(3)]
    payload = AttributePayload(name="bright", positive=positives, negative=negatives)
    with pytest.raises(AttributeDefinitionError, match="3 of the 6 examples were refused") as raised:
        fit_classifier(env, payload)
    assert "need at least 2 positive examples, got 0" in str(raised.value)
