"""Where the model looks in a photo: plain crops, aligned faces (every one, or the largest), and the paste-back."""
from __future__ import annotations

import numpy as np
import pytest

from faces.alignment import map_points
from faces.detection import Face, FaceFinder
from faces.template import template_points
from tests.images import CELEBA
from workers.errors import JobInputError
from workers.framing import center_placement, cut, face_placement, paste, place, whole_placement


def photo(height: int = 60, width: int = 90) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def face_at(x: float, y: float, size: float) -> Face:
    """A face whose landmarks sit where the template puts them in a size x size frame at (x, y)."""
    landmarks = (template_points(64) + 0.5) * size / 64 - 0.5 + [x, y]
    return Face((round(x), round(y), round(size), round(size)), landmarks)


class FoundFaces:
    """Stands in for the detector: the faces it finds, largest first."""

    def __init__(self, *faces: Face):
        self.faces = sorted(faces, key=lambda face: face.area, reverse=True)

    def find(self, image: np.ndarray, min_side: int = 0, max_side: int = 0) -> list[Face]:
        return list(self.faces)


def test_center_and_whole_placements():
    center, whole = center_placement(photo(), 16), whole_placement(photo(), 16)
    assert center.box == (15, 0, 60, 60) and not center.aligned and center.fade
    assert whole.box == (0, 0, 90, 60) and not whole.fade
    assert np.allclose(map_points(center.matrix, [[14.5, -0.5], [74.5, 59.5]]), [[-0.5, -0.5], [15.5, 15.5]])


def test_a_face_is_placed_by_its_landmarks():
    face = face_at(200, 100, 128)
    placement = face_placement(face, 64)
    assert placement.aligned and placement.box == (200, 100, 128, 128)
    assert np.allclose(map_points(placement.matrix, face.landmarks), template_points(64), atol=1e-6)


def test_every_face_or_only_the_largest():
    small, large = face_at(10, 10, 80), face_at(200, 40, 160)
    finder = FoundFaces(small, large)
    pixels = photo(300, 400)
    assert [p.face for p in place(pixels, "face", finder, 64)] == [large, small]
    assert [p.face for p in place(pixels, "face", finder, 64, faces="largest")] == [large]
    assert [p.face for p in place(pixels, "center", finder, 64)] == [None]


def test_no_face_is_an_input_error():
    with pytest.raises(JobInputError, match="no face found"):
        place(photo(), "face", FaceFinder(), 16)


def test_cut_and_paste_without_an_edit_return_the_photo_exactly():
    pixels = photo(300, 400)
    placement = face_placement(face_at(100, 60, 150), 64)
    crop = cut(pixels, placement)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.float32
    pasted, changed = paste(pixels, placement, crop, crop.copy())
    assert not changed and np.array_equal(pasted, pixels)


def test_paste_changes_the_face_and_keeps_the_rest():
    pixels = photo(300, 400)
    placement = face_placement(face_at(100, 60, 150), 64)
    before = cut(pixels, placement)
    after = before.copy()
    after[20:44, 20:44] = np.clip(after[20:44, 20:44] + 0.3, 0, 1)
    pasted, changed = paste(pixels, placement, before, after)
    assert changed and not np.array_equal(pasted[60:210, 100:250], pixels[60:210, 100:250])
    assert np.array_equal(pasted[:, :90], pixels[:, :90]) and np.array_equal(pasted[:, 260:], pixels[:, 260:])


def test_crop_none_edits_up_to_the_photo_border():
    pixels = np.full((40, 40, 3), 100, np.uint8)
    before = np.full((16, 16, 3), 0.4, np.float32)
    pasted, _ = paste(pixels, whole_placement(pixels, 16), before, before + 0.2)
    assert (pasted == 151).all()  # no fade at the border: the whole photo is the frame


def test_a_real_face_is_found_and_aligned_onto_the_template():
    path = CELEBA / "000001.jpg"
    if not path.is_file():
        pytest.skip("needs ../shared/data/celeba64 for a real face")
    from PIL import Image

    # a training image enlarged 4x on a wider canvas: its frame is about that image again (turned a little upright)
    face = np.asarray(Image.open(path).convert("RGB").resize((256, 256), Image.Resampling.BICUBIC))
    canvas = np.zeros((320, 400, 3), np.uint8)
    canvas[40:296, 80:336] = face
    [placement] = place(canvas, "face", FaceFinder(), 64)
    scale = np.sqrt(abs(np.linalg.det(placement.matrix[:, :2])))
    centre = np.linalg.solve(placement.matrix[:, :2], np.array([31.5, 31.5]) - placement.matrix[:, 2])
    assert abs(scale - 0.25) < 0.025 and np.abs(centre - [207.5, 167.5]).max() < 10
