"""Alignment onto the training framing: the similarity fit, the template, the cut and its round trip."""
from __future__ import annotations

import numpy as np
import pytest

from faces.alignment import box_placement, cut, face_placement, inverse, map_points, similarity, supersampling
from faces.template import TEMPLATE, template_points


def rotation_matrix(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[cos, -sin, shift[0]], [sin, cos, shift[1]]])


def test_similarity_recovers_a_known_rotation_scale_and_shift():
    points = np.random.default_rng(0).uniform(0, 100, (5, 2))
    known = rotation_matrix(0.3, 1.7, (12.0, -4.0))
    assert np.allclose(similarity(points, map_points(known, points)), known, atol=1e-9)


def test_similarity_never_reflects():
    points = np.random.default_rng(1).uniform(0, 100, (5, 2))
    mirrored = points * [-1, 1]
    linear = similarity(points, mirrored)[:, :2]
    assert np.linalg.det(linear) > 0


def test_the_template_lands_on_the_template_and_is_a_face():
    template = np.array(TEMPLATE)
    assert template.shape == (5, 2) and ((template > 0.2) & (template < 0.8)).all()
    assert template[0, 0] > template[1, 0] > template[3, 0] > template[2, 0]  # eye corners, image right to left
    assert template[4, 1] > template[:4, 1].max()  # the nose below the eyes
    points = template_points(64)
    assert np.allclose(map_points(face_placement(points, 64), points), points, atol=1e-9)


def test_a_tilted_face_is_put_upright_at_the_template():
    resolution = 64
    tilt = rotation_matrix(-0.4, 5.0, (300.0, 120.0))  # frame -> photo: five times larger, tilted
    landmarks = map_points(tilt, template_points(resolution))
    matrix = face_placement(landmarks, resolution)
    assert np.allclose(map_points(matrix, landmarks), template_points(resolution), atol=1e-6)
    assert np.allclose(map_points(inverse(matrix), template_points(resolution)), landmarks, atol=0.5)


def test_round_trip_brings_a_synthetic_face_back_within_half_a_pixel():
    """Draw dots at known landmarks in a photo, cut the frame, find the dots there, map them back to the photo."""
    resolution, photo = 64, np.zeros((400, 500, 3), np.uint8)
    tilt = rotation_matrix(0.25, 3.0, (150.0, 60.0))
    landmarks = map_points(tilt, template_points(resolution))
    ys, xs = np.mgrid[0:400, 0:500]
    for x, y in landmarks:  # soft dots, so their centroid is measurable after resampling
        dot = 255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 18)
        photo[..., 0] = np.maximum(photo[..., 0], dot.astype(np.uint8))
    frame = cut(photo, face_placement(landmarks, resolution), resolution)[..., 0]
    fy, fx = np.mgrid[0:resolution, 0:resolution]
    found = []
    for tx, ty in template_points(resolution):
        near = (np.abs(fx - tx) <= 3) & (np.abs(fy - ty) <= 3)
        weight = frame * near
        found.append([(weight * fx).sum() / weight.sum(), (weight * fy).sum() / weight.sum()])
    assert np.abs(np.array(found) - template_points(resolution)).max() < 0.5 / 3 + 0.1  # frame px (3 photo px each)
    back = map_points(inverse(face_placement(landmarks, resolution)), np.array(found))
    assert np.abs(back - landmarks).max() < 0.5


def test_box_placement_maps_the_box_edges_onto_the_frame_edges():
    matrix = box_placement(10, 20, 40, 80, 8)
    assert np.allclose(map_points(matrix, [[9.5, 19.5], [49.5, 99.5]]), [[-0.5, -0.5], [7.5, 7.5]])


def test_cut_past_the_border_repeats_the_edge():
    pixels = np.zeros((40, 40, 3), np.uint8)
    pixels[:, 0] = 255  # a white left column, repeated into the padding
    crop = cut(pixels, box_placement(-20, 0, 40, 40, 8), 8)
    assert crop.shape == (8, 8, 3) and crop.dtype == np.float32
    assert crop[:, :4].min() > 0.99 and crop[:, 6:].max() < 0.01


@pytest.mark.parametrize("side", [80, 720, 2000])  # odd multiples of 16: plain sampling hits pixel centres
def test_a_large_face_is_averaged_down_without_aliasing(side):
    """A one-pixel checkerboard averages to grey at any size; sampled without averaging it would be noise."""
    board = ((np.indices((side, side)).sum(axis=0) % 2) * 255).astype(np.uint8)
    photo = np.repeat(board[..., None], 3, axis=2)
    matrix = box_placement(0, 0, side, side, 16)
    assert supersampling(matrix) == min(16, side // 16)
    crop = cut(photo, matrix, 16)
    assert abs(crop.mean() - 0.5) < 0.01 and crop.std() < 0.05  # plain sampling: 0.5


def test_a_face_already_near_the_frame_keeps_its_detail():
    """Re-aligning a 64-px face moves it by a fraction of a pixel and a few degrees; the cut must not blur it the way
    bilinear sampling does. Pixel noise is the hardest case."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # detail at every pixel
    matrix = rotation_matrix(np.radians(2.0), 0.98, (0.9, -0.4))
    assert supersampling(matrix) == 1
    crop = cut(photo, matrix, 64)
    resampled = cut((crop * 255).round().astype(np.uint8), inverse(matrix), 64)
    inner = (slice(8, -8), slice(8, -8))
    detail = float(np.diff(photo[inner] / 255.0, axis=1).std())
    assert float(np.diff(crop[inner], axis=1).std()) > 0.8 * detail  # Lanczos 0.88, bilinear 0.59
    assert np.abs(resampled[inner] - photo[inner] / 255.0).mean() < 0.1  # there and back: Lanczos 0.07, bilinear 0.15
