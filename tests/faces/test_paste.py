"""Pasting a change back into the photo through the inverse placement: exact bytes wherever nothing changed."""
from __future__ import annotations

import numpy as np

from faces import paste
from faces.alignment import box_placement, face_placement
from faces.mask import change_mask
from faces.paste import add_residual, frame_bounds
from faces.template import template_points


def photo(height: int = 300, width: int = 400) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def tilted_face(resolution: int = 64) -> np.ndarray:
    """A photo -> frame matrix of a face about 3x the frame, tilted, in the middle of `photo()`."""
    cos, sin = np.cos(0.3) * 3, np.sin(0.3) * 3
    landmarks = template_points(resolution) @ np.array([[cos, -sin], [sin, cos]]).T + [120, 50]
    return face_placement(landmarks, resolution)


def test_a_zero_residual_returns_the_photo_byte_identical():
    pixels = photo()
    assert np.array_equal(add_residual(pixels, tilted_face(), np.zeros((64, 64, 3), np.float32)), pixels)


def test_a_change_in_a_patch_leaves_far_pixels_byte_identical():
    pixels, matrix = photo(), tilted_face()
    before = np.full((64, 64, 3), 0.5, np.float32)
    after = before.copy()
    after[44:52, 28:36] += 0.4  # around the mouth
    result = add_residual(pixels, matrix, (after - before) * change_mask(before, after)[..., None])
    changed = np.argwhere((result != pixels).any(axis=2))
    assert len(changed) > 100
    patch_centre = np.linalg.solve(matrix[:, :2], np.array([31.5, 47.5]) - matrix[:, 2])  # in photo pixels (x, y)
    distances = np.linalg.norm(changed[:, ::-1] - patch_centre, axis=1)
    assert distances.max() < 3 * (8 + 2 * 6)  # patch half-diagonal plus grow and feather, in 3-px frame pixels
    assert np.array_equal(result[:, :100], pixels[:, :100])


def test_the_change_lands_where_the_frame_is():
    pixels = np.full((60, 90, 3), 100, np.uint8)
    matrix = box_placement(15, 0, 60, 60, 16)
    result = add_residual(pixels, matrix, np.full((16, 16, 3), 0.2, np.float32))
    assert np.array_equal(result[:, :15], pixels[:, :15]) and np.array_equal(result[:, 75:], pixels[:, 75:])
    assert (result[:, 15:75, 0] == 151).all()  # +0.2 * 255


def test_a_frame_partly_outside_the_photo():
    pixels = np.full((30, 30, 3), 50, np.uint8)
    assert frame_bounds(box_placement(15, 15, 30, 30, 8), 8, 30, 30) == (15, 30, 15, 30)
    result = add_residual(pixels, box_placement(15, 15, 30, 30, 8), np.full((8, 8, 3), 0.1, np.float32))
    assert result.shape == pixels.shape and result[29, 29, 0] > 50 and result[0, 0, 0] == 50
    assert np.array_equal(add_residual(pixels, box_placement(40, 40, 30, 30, 8), np.ones((8, 8, 3))), pixels)


def test_bands_of_rows_give_the_same_photo_as_one_pass(monkeypatch):
    pixels, matrix = photo(), tilted_face()
    residual = np.random.default_rng(2).normal(0, 0.1, (64, 64, 3)).astype(np.float32)
    whole = add_residual(pixels, matrix, residual)
    monkeypatch.setattr(paste, "BAND_ROWS", 7)
    assert np.array_equal(add_residual(pixels, matrix, residual), whole)
