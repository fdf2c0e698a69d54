"""Identity by dlib's face embedding: 128 numbers per face, close for one person, far for two."""
from __future__ import annotations

import numpy as np
import pytest

from faces.detection import Face, FaceFinder
from faces.identity import SAME_PERSON, FaceEmbedder, distance
from tests.faces.test_detection import real_photo


@pytest.fixture(scope="module")
def embedder() -> FaceEmbedder:
    return FaceEmbedder()


def test_distance_is_euclidean():
    assert distance(np.zeros(128), np.full(128, 0.5)) == pytest.approx(np.sqrt(128 * 0.25))


def test_an_image_without_a_face_has_no_embedding(embedder):
    assert embedder.embedding(np.full((64, 64, 3), 128, np.uint8)) is None


def test_given_landmarks_are_embedded_without_a_detector(embedder):
    image = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    landmarks = np.array([[130.0, 90], [112, 91], [70, 90], [88, 91], [100, 125]])
    vector = embedder.embedding(image, landmarks)
    assert vector.shape == (128,) and np.isfinite(vector).all()
    face = Face((60, 60, 80, 80), landmarks)
    assert embedder.identity_distance(image, image.copy(), face) == pytest.approx(0.0, abs=1e-6)


def test_one_person_is_close_and_two_people_are_far(embedder):
    pair = real_photo("two_people.jpg")
    portrait = real_photo("obama.jpg")
    first, second = (embedder.embedding(pair, face.landmarks) for face in FaceFinder().find(pair))
    alone = embedder.embedding(portrait)
    assert distance(first, second) > SAME_PERSON
    assert min(distance(alone, first), distance(alone, second)) < SAME_PERSON
