"""make ship: the rule deciding whether a run beats the shipped checkpoint, and a refusal that leaves it untouched."""

import json

import pytest
import torch
from safetensors.torch import save_file

from model.checkpoint import read_card, save_model, update_card
from model.d2c import D2C, SAMPLE_ETA, SAMPLE_STEPS
from pipelines.oracle import Oracle
from pipelines.ship import ShipRule, measured, ship
from tests.tiny_data import tiny_model_config


def figures(recon: float, probe_draws: list[float], fd_draws: list[float], recon_se: float = 0.01) -> dict:
    return {
        "recon_psnr_db": recon,
        "recon_psnr_se": recon_se,
        "probe_draws": probe_draws,
        "probe_mean": sum(probe_draws) / len(probe_draws),
        "generation_fd_draws": fd_draws,
        "generation_fd": sum(fd_draws) / len(fd_draws),
        "generation_sampler": {"steps": SAMPLE_STEPS, "eta": SAMPLE_ETA},  # what evaluate measures with today
    }


SHIPPED = figures(27.1, [0.78, 0.76, 0.80], [20.0, 20.2, 19.8])


@pytest.mark.parametrize(
    "candidate, refused",
    [
        (figures(27.5, [0.80, 0.78, 0.82], [10.0, 10.2, 9.8]), []),
        (figures(26.0, [0.80, 0.78, 0.82], [10.0, 10.2, 9.8]), ["reconstruction"]),
        (figures(27.5, [0.75, 0.73, 0.77], [30.0, 30.2, 29.8]), ["probe", "generation_fd"]),
        (SHIPPED, ["no figure improves"]),
        # the probe 0.002 lower on every draw: a small change, but beyond its noise
        (figures(27.5, [0.778, 0.758, 0.798], [10.0, 10.2, 9.8]), ["probe"]),
    ],
)
def test_the_ship_rule_names_every_figure_that_is_worse(candidate, refused):
    reasons = ShipRule().refusals(candidate, SHIPPED)
    assert len(reasons) == len(refused) and all(word in reason for word, reason in zip(refused, reasons))


def test_the_ship_rule_weighs_each_change_against_its_noise():
    # the probe is 0.001 lower on average, but draw by draw it goes both ways: noise, not a loss
    probe_inside_noise = [0.79, 0.75, 0.797]
    assert ShipRule().refusals(figures(27.1, probe_inside_noise, [18.0, 18.2, 17.8]), SHIPPED) == []
    # generation_fd 0.1 lower on average, inside the spread of its noise draws, and nothing else better: refused
    fd_inside_noise = [19.5, 20.5, 19.7]
    (reason,) = ShipRule().refusals(figures(27.1, SHIPPED["probe_draws"], fd_inside_noise), SHIPPED)
    assert "no figure improves" in reason
    # 0.1 dB of reconstruction is a gain when the images measure it to 0.01 dB, and noise when only to 0.1 dB
    assert ShipRule().refusals(figures(27.2, SHIPPED["probe_draws"], SHIPPED["generation_fd_draws"]), SHIPPED) == []
    noisy = ShipRule().refusals(
        figures(27.2, SHIPPED["probe_draws"], SHIPPED["generation_fd_draws"], recon_se=0.1),
        figures(27.1, SHIPPED["probe_draws"], SHIPPED["generation_fd_draws"], recon_se=0.1),
    )
    assert len(noisy) == 1 and "no figure improves" in noisy[0]


def test_the_ship_rule_refuses_to_compare_figures_drawn_differently():
    with pytest.raises(ValueError, match="measure both checkpoints the same way"):
        ShipRule().refusals(figures(27.5, [0.8, 0.8], [10.0, 10.0, 10.0]), SHIPPED)


def tiny_oracle(directory):
    torch.manual_seed(0)
    directory.mkdir()
    save_file(Oracle(attributes=40, width=4).state_dict(), str(directory / "oracle.safetensors"))
    (directory / "oracle.json").write_text(json.dumps({"attributes": [f"a{i}" for i in range(40)], "width": 4}))
    return directory


TINY_EVALUATION = {"probe_attributes": ("Blond_Hair",), "shots": 3, "probe_draws": 2, "generation_draws": 2}


def test_a_shipped_card_measured_with_other_draws_is_measured_again(tmp_path, celeba64_dir):
    oracle, shipped = tiny_oracle(tmp_path / "oracle"), tmp_path / "shipped"
    save_model(shipped, D2C(tiny_model_config()))
    candidate = figures(27.0, [0.5, 0.5], [1.0, 1.0])
    update_card(shipped, metrics=figures(40.0, [0.99, 0.99], [0.0, 0.0]))
    assert measured(shipped, celeba64_dir, oracle, candidate, **TINY_EVALUATION)["probe_draws"] == [0.99, 0.99]
    update_card(shipped, metrics=figures(40.0, [0.99], [0.0]))  # one draw each: not comparable with two
    remeasured = measured(shipped, celeba64_dir, oracle, candidate, **TINY_EVALUATION)
    assert len(remeasured["probe_draws"]) == 2 and len(remeasured["generation_fd_draws"]) == 2
    assert remeasured["recon_psnr_db"] < 40.0 and read_card(shipped)["metrics"] == remeasured


def test_a_shipped_card_measured_with_another_sampler_is_measured_again(tmp_path, celeba64_dir):
    oracle, shipped = tiny_oracle(tmp_path / "oracle"), tmp_path / "shipped"
    save_model(shipped, D2C(tiny_model_config()))
    candidate = figures(27.0, [0.5, 0.5], [1.0, 1.0])
    deterministic = {"generation_sampler": {"steps": SAMPLE_STEPS, "eta": 0.0}}
    update_card(shipped, metrics=figures(40.0, [0.99, 0.99], [0.0, 0.0]) | deterministic)
    remeasured = measured(shipped, celeba64_dir, oracle, candidate, **TINY_EVALUATION)
    assert remeasured["generation_sampler"] == candidate["generation_sampler"] and remeasured["recon_psnr_db"] < 40.0
    assert read_card(shipped)["metrics"] == remeasured


def test_ship_refuses_a_worse_run_and_leaves_the_shipped_checkpoint_untouched(tmp_path, celeba64_dir):
    oracle = tiny_oracle(tmp_path / "oracle")
    run, shipped = tmp_path / "run", tmp_path / "shipped"
    save_model(run, D2C(tiny_model_config()))
    update_card(run, training={"steps": 1})
    for name in ("samples.png", "reconstructions.png"):
        (run / name).write_bytes(b"png")
    save_model(shipped, D2C(tiny_model_config()))
    update_card(shipped, metrics=figures(40.0, [0.99] * 2, [0.0] * 2))
    before = {path.name: path.read_bytes() for path in shipped.iterdir()}
    assert not ship(run, shipped, celeba64_dir, oracle, prior_minutes=0, **TINY_EVALUATION)
    assert {path.name: path.read_bytes() for path in shipped.iterdir()} == before
    assert not (tmp_path / ".shipped.staging").exists()
    decision = json.loads((run / "last_ship.json").read_text())
    assert decision["refusals"] and decision["training"] == {"steps": 1}
    assert len(decision["candidate"]["probe_draws"]) == 2 and decision["shipped"]["recon_psnr_db"] == 40.0
