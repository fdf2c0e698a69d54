import pytest
import torch

from model.attributes import fit_binary
from model.data import load_dataset
from model.manipulation import STRENGTH_GRID, ManipulationSettings
from pipelines.calibration import calibrate_strength, kept_success, oracle_judge
from pipelines.oracle import Oracle, predict
from tests.tiny_data import ATTRIBUTES


def linear_judge(calls: list[float]):
    """Success grows with strength; preservation falls by 0.05 per unit of strength."""

    def judge(strength: float) -> tuple[float, float]:
        calls.append(strength)
        return strength / 4, 1 - 0.05 * strength

    return judge


def test_calibration_raises_the_strength_while_the_edit_keeps_the_floor():
    calls = []
    strength, trail = calibrate_strength(linear_judge(calls), tuned=0.5, floor=0.88)
    # up the grid until 3.0 breaks the floor (0.85), then two bisections: 2.5 breaks it (0.875), 2.25 keeps it
    assert calls == [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 2.5, 2.25]
    assert strength == 2.25
    assert [point["strength"] for point in trail] == sorted(calls)
    assert trail[-1]["preservation"] == pytest.approx(0.85)


def test_calibration_never_lowers_a_tuned_strength_below_the_floor():
    strength, trail = calibrate_strength(linear_judge([]), tuned=4.0, floor=0.89)
    assert strength == 4.0 and len(trail) == 1


def test_calibration_keeps_the_gentler_strength_when_success_stops_growing():
    def saturated(strength: float) -> tuple[float, float]:
        return min(0.5, strength), 0.95

    strength, trail = calibrate_strength(saturated, tuned=0.125)
    assert strength == 0.5  # 0.75 and beyond reach the same success and are not taken
    assert len(trail) == len(STRENGTH_GRID)  # the floor always held: the whole grid from the tuned value up


def test_the_success_a_calibrated_strength_keeps_counts_only_above_the_floor():
    trail = [
        {"strength": 0.5, "success": 0.4, "preservation": 0.93},
        {"strength": 1.0, "success": 0.7, "preservation": 0.87},
    ]
    assert kept_success(trail, 0.5, floor=0.9) == 0.4
    assert kept_success(trail, 1.0, floor=0.9) == 0.0  # a tuned strength calibration kept though under the floor


def test_oracle_judge_scores_no_edit_as_fully_preserved_and_an_edit_as_its_oracle_reading(tiny_model, celeba64_dir):
    torch.manual_seed(0)
    train = load_dataset(celeba64_dir, split="train", resolution=32)
    images = train.float_images(slice(None))
    latents = tiny_model.encode(images)
    blond = train.attribute("Blond_Hair").bool()
    classifier = fit_binary("blond", latents[blond], latents[~blond])
    oracle = Oracle(attributes=len(ATTRIBUTES), width=4).eval()
    index = ATTRIBUTES.index("Blond_Hair")
    judge = oracle_judge(tiny_model, oracle, index, images, classifier, True, ManipulationSettings())
    success, preservation = judge(0.0)  # strength 0 edits nothing: the delivered image is the photo
    assert preservation == 1.0
    assert success == pytest.approx(float(predict(oracle, images)[:, index].float().mean()))
    success, preservation = judge(8.0)
    assert 0.0 <= success <= 1.0 and 0.0 <= preservation <= 1.0
