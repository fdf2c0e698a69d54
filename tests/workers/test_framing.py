"""Crop geometry and paste-back: frames past the border, the residual blend, and the face frame's framing."""
from __future__ import annotations

import numpy as np
import pytest

from tests.images import CELEBA
from workers.errors import JobInputError
from workers.framing import FaceDetector, Frame, center_frame, choose_frame, cut, paste, whole_frame


def photo(height: int = 60, width: int = 90) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_center_and_whole_frames():
    assert center_frame(photo()) == Frame(15, 0, 60, 60)
    assert whole_frame(photo()) == Frame(0, 0, 90, 60, feather=False)


def test_cut_past_the_border_repeats_the_edge():
    pixels = np.zeros((40, 40, 3), np.uint8)
    pixels[:, 0] = 255  # a white left column, repeated into the padding
    crop = cut(pixels, Frame(-20, 0, 40, 40), 8)
    assert crop.shape == (8, 8, 3) and crop.dtype == np.float32
    assert crop[:, :4].min() > 0.99 and crop[:, 6:].max() < 0.01


def test_paste_without_an_edit_returns_the_photo_exactly():
    pixels = photo()
    same = np.full((16, 16, 3), 0.5, np.float32)
    assert np.array_equal(paste(pixels, center_frame(pixels), same, same), pixels)


def test_paste_changes_only_inside_the_frame_and_fades_at_its_edge():
    pixels = np.full((60, 90, 3), 100, np.uint8)
    frame = center_frame(pixels)
    result = paste(pixels, frame, np.zeros((16, 16, 3), np.float32), np.full((16, 16, 3), 0.2, np.float32))
    assert np.array_equal(result[:, :15], pixels[:, :15]) and np.array_equal(result[:, 75:], pixels[:, 75:])
    assert result[30, 45, 0] == 151  # full edit (+0.2 * 255) at the centre
    assert 100 <= result[30, 16, 0] < 151  # faded towards the frame's edge


def test_paste_of_a_frame_partly_outside_the_photo():
    pixels = np.full((30, 30, 3), 50, np.uint8)
    result = paste(pixels, Frame(15, 15, 30, 30), np.zeros((8, 8, 3), np.float32), np.full((8, 8, 3), 0.1, np.float32))
    assert result.shape == pixels.shape and result[29, 29, 0] > 50 and result[0, 0, 0] == 50


def test_no_face_is_an_input_error_unless_falling_back():
    detector = FaceDetector()
    with pytest.raises(JobInputError, match="no face found"):
        choose_frame(photo(), "face", detector)
    assert choose_frame(photo(), "face", detector, fallback_to_center=True) == center_frame(photo())


def test_face_frame_reproduces_the_training_framing():
    path = CELEBA / "000001.jpg"
    if not path.is_file():
        pytest.skip("needs ../shared/data/celeba64 for a real face")
    from PIL import Image

    # a training image enlarged: its face frame must be (close to) the whole image again
    pixels = np.asarray(Image.open(path).convert("RGB").resize((256, 256), Image.Resampling.BICUBIC))
    frame = FaceDetector().face_frame(pixels)
    assert frame is not None
    assert abs(frame.left) <= 20 and abs(frame.top) <= 20 and abs(frame.width - 256) <= 40
