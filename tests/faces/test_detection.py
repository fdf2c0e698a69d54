"""Face detection and landmarks: the search scale, the model files, and real photos when the shared folder has them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faces.detection import FaceFinder, detection_scale
from faces.models import FACE_EMBEDDING, LANDMARKS_5, model_file
from tests.images import ROOT

PHOTOS = ROOT.parent / "shared" / "data" / "photos"


def real_photo(name: str) -> np.ndarray:
    path = PHOTOS / name
    if not path.is_file():
        pytest.skip(f"needs ../shared/data/photos/{name} (real photos; dlib's HOG detector finds no synthetic face)")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def finder() -> FaceFinder:
    return FaceFinder()


def test_large_photos_are_shrunk_and_small_ones_enlarged_for_the_search():
    assert detection_scale(2204, 970, 256, 800) == pytest.approx(800 / 2204)
    assert detection_scale(64, 64, 256, 800) == 4.0
    assert detection_scale(500, 300, 256, 800) == 1.0


def test_the_cc0_models_are_found_without_importing_their_package():
    assert model_file(LANDMARKS_5).stat().st_size > 1_000_000
    assert model_file(FACE_EMBEDDING).stat().st_size > 1_000_000
    with pytest.raises(RuntimeError, match="missing"):
        model_file("shape_predictor_0_face_landmarks.dat")


def test_no_face_in_noise(finder):
    assert finder.find(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)) == []


def test_two_people_are_two_faces_with_landmarks_inside_their_boxes(finder):
    faces = finder.find(real_photo("two_people.jpg"))
    assert len(faces) == 2 and faces[0].area >= faces[1].area
    for face in faces:
        x, y, w, h = face.box
        assert face.landmarks.shape == (5, 2)
        assert ((face.landmarks >= [x, y]) & (face.landmarks <= [x + w, y + h])).all()
        eyes, nose = face.landmarks[:4], face.landmarks[4]
        assert nose[1] > eyes[:, 1].max() and eyes[0, 0] > eyes[2, 0]  # nose below the eyes; dlib's order


def test_a_tall_photo_is_searched_shrunk_and_its_landmarks_are_at_full_resolution(finder):
    photo = real_photo("biden.jpg")
    [face] = finder.find(photo)
    [again] = finder.find(photo, max_side=max(photo.shape))  # searched at full size
    assert np.abs(np.array(face.box) - again.box).max() < 0.15 * again.box[2]  # HOG's scales are coarse
    assert np.abs(face.landmarks - again.landmarks).max() < 0.01 * again.box[2]  # predicted on the same pixels
