"""The paste-back mask comes from where the decoded edit changed the frame."""
from __future__ import annotations

import numpy as np

from faces.mask import border_fade, change_mask


def frames(resolution: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, (resolution, resolution, 3)).astype(np.float32)


def test_no_change_is_an_empty_mask():
    before = frames()
    assert not change_mask(before, before.copy()).any()


def test_a_change_confined_to_a_patch_is_masked_there_only():
    before = frames()
    after = before.copy()
    after[40:50, 40:50] += 0.3
    mask = change_mask(before, after)
    assert mask[45, 45] > 0.99 and mask[38, 45] > 0  # the patch, and a little around it
    assert not mask[:25].any() and not mask[:, :25].any()  # far from it: nothing


def test_changes_at_the_noise_level_are_left_out():
    before = frames()
    after = before + np.random.default_rng(1).normal(0, 0.005, before.shape).astype(np.float32)  # pixel noise
    after[20:30, 20:30] += 0.25
    mask = change_mask(before, after)
    assert mask[25, 25] > 0.99 and not mask[45:, 45:].any()


def test_the_mask_fades_to_zero_at_the_frame_border_unless_told_not_to():
    before = frames()
    after = before + 0.3  # everything changed
    faded, whole = change_mask(before, after), change_mask(before, after, fade_border=False)
    assert not faded[0].any() and not faded[:, -1].any() and faded[32, 32] > 0.99
    assert whole.min() > 0.99
    assert border_fade(64)[0, 32] == 0 and border_fade(64)[32, 32] == 1
