"""make ship: the rule deciding whether a run beats the shipped checkpoint, and a refusal that leaves it untouched."""

import json

import pytest
import torch
from safetensors.torch import save_file

from model.checkpoint import save_model, update_card
from model.d2c import D2C
from pipelines.oracle import Oracle
from pipelines.ship import ShipRule, ship
from tests.tiny_data import tiny_model_config


@pytest.mark.parametrize(
    "candidate, refused",
    [
        ({"recon_psnr_db": 27.5, "probe_mean": 0.80, "generation_fd": 10.0}, []),
        ({"recon_psnr_db": 26.0, "probe_mean": 0.80, "generation_fd": 10.0}, ["reconstruction"]),
        ({"recon_psnr_db": 27.5, "probe_mean": 0.75, "generation_fd": 30.0}, ["probe", "generation_fd"]),
        ({"recon_psnr_db": 27.1, "probe_mean": 0.78, "generation_fd": 20.0}, ["no figure improves"]),
    ],
)
def test_the_ship_rule_names_every_figure_that_is_worse(candidate, refused):
    shipped = {"recon_psnr_db": 27.1, "probe_mean": 0.78, "generation_fd": 20.0}
    reasons = ShipRule().refusals(candidate, shipped)
    assert len(reasons) == len(refused) and all(word in reason for word, reason in zip(refused, reasons))


def test_ship_refuses_a_worse_run_and_leaves_the_shipped_checkpoint_untouched(tmp_path, celeba64_dir):
    torch.manual_seed(0)
    oracle = tmp_path / "oracle"
    oracle.mkdir()
    save_file(Oracle(attributes=40, width=4).state_dict(), str(oracle / "oracle.safetensors"))
    (oracle / "oracle.json").write_text(json.dumps({"attributes": [f"a{i}" for i in range(40)], "width": 4}))
    run, shipped = tmp_path / "run", tmp_path / "shipped"
    save_model(run, D2C(tiny_model_config()))
    update_card(run, training={"steps": 1})
    for name in ("samples.png", "reconstructions.png"):
        (run / name).write_bytes(b"png")
    save_model(shipped, D2C(tiny_model_config()))
    update_card(shipped, metrics={"recon_psnr_db": 40.0, "probe_mean": 0.99, "generation_fd": 0.0})
    before = {path.name: path.read_bytes() for path in shipped.iterdir()}
    assert not ship(run, shipped, celeba64_dir, oracle, prior_minutes=0, probe_attributes=("Blond_Hair",), shots=3)
    assert {path.name: path.read_bytes() for path in shipped.iterdir()} == before
    assert not (tmp_path / ".shipped.staging").exists()
