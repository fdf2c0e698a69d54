import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model.contrastive import MoCo, face_augment
from model.d2c import D2C, D2CLoss
from model.networks import ProjectionHead
from model.precision import native_precision
from model.training.cli import main as train_main
from tests.tiny_data import tiny_model_config, tiny_train_config_file

ROOT = Path(__file__).resolve().parents[2]


def test_joint_loss_falls_on_a_tiny_set(celeba64_dir):
    from model.data import load_dataset

    torch.manual_seed(0)
    images = load_dataset(celeba64_dir, split="train", resolution=32).float_images(slice(0, 16))
    model, head = D2C(tiny_model_config()), ProjectionHead(tiny_model_config())
    moco = MoCo(model.encoder, head, queue_size=32, momentum=0.9, temperature=0.2)
    loss_fn = D2CLoss(contrastive_weight=1.0)
    optimizer = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=3e-3)
    losses = []
    for _ in range(60):
        keys = moco.keys(face_augment(images))
        terms = loss_fn(model, images, lambda mean, keys=keys: moco.loss(head(mean), keys))
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        moco.update(model.encoder, head, keys)
        losses.append(float(terms["recon"].detach()))
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert set(terms) >= {"recon", "diffusion", "entropy", "contrastive", "loss"}


def run_training(data: Path, out: Path, config: Path, *extra: str) -> None:
    train_main(["--data", str(data), "--out", str(out), "--config", str(config), "--quiet", "--threads", "1", *extra])


def test_resume_continues_step_count_optimizer_and_matches_an_uninterrupted_run(tmp_path, celeba64_dir):
    config = tiny_train_config_file(tmp_path)
    run_training(celeba64_dir, tmp_path / "straight", config, "--set", "max_steps=4")
    run_training(celeba64_dir, tmp_path / "resumed", config, "--set", "max_steps=2")
    first = torch.load(tmp_path / "resumed" / "train_state.pt", weights_only=True)
    assert first["step"] == 2 and first["optimizer"]["state"]
    run_training(celeba64_dir, tmp_path / "resumed", config, "--set", "max_steps=4", "--resume")
    state = torch.load(tmp_path / "resumed" / "train_state.pt", weights_only=True)
    assert state["step"] == 4
    adam_steps = {float(entry["step"]) for entry in state["optimizer"]["state"].values()}
    assert adam_steps == {4.0}
    straight, resumed = (
        load_file(str(tmp_path / "straight" / "model.safetensors")),
        load_file(str(tmp_path / "resumed" / "model.safetensors")),
    )
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=1e-5, msg=name)


def test_training_writes_a_complete_checkpoint(tmp_path, celeba64_dir):
    out = tmp_path / "run"
    run_training(celeba64_dir, out, tiny_train_config_file(tmp_path), "--set", "max_steps=2")
    for name in (
        "model.safetensors",
        "teacher_head.safetensors",
        "config.json",
        "card.json",
        "card.md",
        "samples.png",
        "reconstructions.png",
        "train_state.pt",
    ):
        assert (out / name).is_file(), name
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["steps"] == 2 and card["data"]["images"] == 18
    assert "non-commercial" in (out / "card.md").read_text()


@pytest.mark.parametrize(("bf16_instructions", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_trains_in_bf16_only_where_the_cpu_computes_it(
    monkeypatch, tmp_path, celeba64_dir, bf16_instructions, expected
):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: bf16_instructions)
    out = tmp_path / "run"
    run_training(celeba64_dir, out, tiny_train_config_file(tmp_path), "--set", "max_steps=1")
    assert json.loads((out / "card.json").read_text())["training"]["precision"] == expected
    assert native_precision(torch.device("cuda")) == "bf16"


def test_unknown_config_key_is_refused(tmp_path, celeba64_dir):
    with pytest.raises(SystemExit, match="unknown config key"):
        run_training(celeba64_dir, tmp_path / "run", tiny_train_config_file(tmp_path), "--set", "not_a_key=1")


def test_two_process_gloo_ddp_run_completes_with_ranks_in_sync(tmp_path, celeba64_dir):
    out = tmp_path / "ddp"
    config = tiny_train_config_file(tmp_path, max_steps=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29531",
        "-m",
        "model.training",
        "--data",
        str(celeba64_dir),
        "--out",
        str(out),
        "--config",
        str(config),
        "--quiet",
    ]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    training = json.loads((out / "card.json").read_text())["training"]
    assert training["world_size"] == 2 and training["replicas_in_sync"] is True and training["steps"] == 3


def test_a_warm_start_takes_the_head_and_a_first_layer_only_head_keeps_the_rest_as_initialised():
    from model.config import TrainConfig
    from model.training.step import build_trainer

    torch.manual_seed(0)
    config = TrainConfig(model=tiny_model_config(), moco_queue=8)
    trainer = build_trainer(config, torch.device("cpu"))
    shipped_model, shipped_head = D2C(config.model), ProjectionHead(config.model)
    initial_output = trainer.head.mlp[2].weight.detach().clone()
    first_layer = {name: t for name, t in shipped_head.state_dict().items() if name.startswith("mlp.0.")}
    trainer.warm_start(shipped_model.state_dict(), first_layer)
    torch.testing.assert_close(trainer.head.mlp[0].weight, shipped_head.mlp[0].weight)
    torch.testing.assert_close(trainer.head.mlp[2].weight, initial_output)
    trainer.warm_start(shipped_model.state_dict(), shipped_head.state_dict())
    for online, key in zip(trainer.head.parameters(), trainer.moco.head.parameters(), strict=True):
        torch.testing.assert_close(key, online)
    torch.testing.assert_close(trainer.head.mlp[2].weight, shipped_head.mlp[2].weight)
    with pytest.raises(ValueError, match="head does not fit"):
        trainer.warm_start(shipped_model.state_dict(), {"mlp.2.weight": shipped_head.mlp[2].weight})
