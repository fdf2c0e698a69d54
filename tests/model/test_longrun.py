"""make train's long run: continues its state, stops cleanly on SIGTERM, warm-starts from a checkpoint; the GPU
script continues it the same way."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model.checkpoint import save_head, save_model, update_card
from model.d2c import D2C
from model.networks import ProjectionHead
from model.training import longrun
from model.training.train import STATE
from tests.tiny_data import tiny_model_config, tiny_train_config_file


def settings_for(tmp_path: Path, data: Path, warm_start: Path | None = None, ranks: int = 1,
                 **config) -> longrun.RunSettings:
    config_file = tiny_train_config_file(tmp_path, **config)
    return longrun.RunSettings(
        run_dir=tmp_path / "run",
        data=data,
        config=config_file,
        warm_start=warm_start or tmp_path / "no-checkpoint",
        threads=1,
        precision="fp32",
        ranks=ranks,
    )


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def saved_step(settings: longrun.RunSettings) -> int:
    return torch.load(settings.run_dir / STATE, weights_only=True)["step"]


@pytest.mark.parametrize("ranks", [1, 2])
def test_the_run_stops_on_sigterm_keeping_its_state_and_the_next_start_continues_it(tmp_path, celeba64_dir, ranks):
    # a checkpoint every step, so the test sees progress; no step limit, so only SIGTERM ends it
    settings = settings_for(tmp_path, celeba64_dir, ranks=ranks, checkpoint_minutes=1e-6)
    longrun.start(settings)
    assert longrun.running_pid(settings) is not None
    wait_for(lambda: (settings.run_dir / STATE).is_file() and saved_step(settings) >= 2)
    assert longrun.stop(settings, timeout=60)
    assert longrun.running_pid(settings) is None
    first = torch.load(settings.run_dir / STATE, weights_only=True)
    assert first["step"] >= 2 and {float(s["step"]) for s in first["optimizer"]["state"].values()} == {
        float(first["step"])
    }

    longrun.start(settings)
    wait_for(lambda: saved_step(settings) >= first["step"] + 2)
    assert longrun.stop(settings, timeout=60)
    second = torch.load(settings.run_dir / STATE, weights_only=True)
    # the optimizer continued (Adam's step count went on from the first run's), and images add up across both runs
    assert {float(s["step"]) for s in second["optimizer"]["state"].values()} == {float(second["step"])}
    assert json.loads(second["history"])["images_seen"] == second["step"] * 8
    assert "continuing" in settings.log_file.read_text()
    # the ranks were told themselves and ended on their own: torchrun never had to signal (or SIGKILL) them
    assert "closing signal" not in settings.log_file.read_text()


def test_with_no_state_the_run_warm_starts_from_the_checkpoint_and_counts_its_training(tmp_path, celeba64_dir):
    torch.manual_seed(3)
    shipped, shipped_head = D2C(tiny_model_config()), ProjectionHead(tiny_model_config())
    save_model(tmp_path / "shipped", shipped)
    save_head(tmp_path / "shipped", shipped_head.state_dict())
    update_card(tmp_path / "shipped", training={"images_seen": 1000, "wall_minutes": 12.5, "git_commit": "abc"})
    settings = settings_for(tmp_path, celeba64_dir, warm_start=tmp_path / "shipped", max_steps=2, learning_rate=1e-4)
    assert "--warm-start" in longrun.training_command(settings)
    pid = longrun.start(settings)
    wait_for(lambda: longrun.running_pid(settings) is None or longrun._reaped(pid))
    card = json.loads((settings.run_dir / "card.json").read_text())["training"]
    assert card["images_seen"] == 1000 + 2 * 8 and card["commits"][0] == "abc" and card["wall_minutes"] >= 12.5
    # two small Adam steps away from the checkpoint's weights, not a fresh initialisation
    weights, start = load_file(str(settings.run_dir / "model.safetensors")), shipped.state_dict()
    assert max(float((weights[name] - start[name]).abs().max()) for name in weights) < 0.01
    # the MoCo head too, which the few-shot teacher comes from (a fresh head differs by up to 0.09 here)
    head, start_head = torch.load(settings.run_dir / STATE, weights_only=True)["head"], shipped_head.state_dict()
    assert max(float((head[name] - start_head[name]).abs().max()) for name in head) < 0.01
    assert "warm start" in settings.log_file.read_text()


def test_a_checkpoint_of_another_architecture_is_not_warm_started_from(tmp_path, celeba64_dir):
    save_model(tmp_path / "shipped", D2C(tiny_model_config(latent_channels=8)))
    settings = settings_for(tmp_path, celeba64_dir, warm_start=tmp_path / "shipped")
    assert "--warm-start" not in longrun.training_command(settings)


def test_the_device_script_continues_the_run_from_the_payload_for_one_step_on_the_cpu(tmp_path, celeba64_dir):
    payload, out = tmp_path / "payload", tmp_path / "out"
    gpu_payload = [sys.executable, "scripts/gpu_payload.py"]
    subprocess.run([*gpu_payload, "pack", "--run-dir", str(tmp_path / "no-run"), "--data", str(celeba64_dir),
                    "--out", str(payload)], cwd=longrun.ROOT, check=True, capture_output=True, timeout=120)
    assert (payload / "commit").read_text().strip() == subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=longrun.ROOT, capture_output=True, text=True, check=True).stdout.strip()
    (payload / "commit").write_text("c0ffee\n")  # stands for the packed commit, which the device copy cannot read
    out.mkdir()
    env = {**os.environ, "PAYLOAD": str(payload), "SCRATCH": str(tmp_path), "OUT": str(out), "BATCH": "4",
           "PYTHON": sys.executable}
    command = ["scripts/gpu_device.sh", "5", "--device", "cpu", "--set", "max_steps=1", "--threads", "1"]
    result = subprocess.run(command, cwd=longrun.ROOT, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    # the unpacked train split is the dataset's own files, byte for byte
    train_files = sorted(path.name for path in (celeba64_dir / "train").iterdir())
    assert sorted(path.name for path in (tmp_path / "celeba64" / "train").iterdir()) == train_files
    assert all((tmp_path / "celeba64" / "train" / name).read_bytes() == (celeba64_dir / "train" / name).read_bytes()
               for name in train_files)
    state = torch.load(tmp_path / "gpu" / STATE, weights_only=True)
    assert state["step"] == 1 and json.loads(state["config"])["batch_size"] == 4
    assert json.loads(state["config"])["model"] == json.loads(longrun.RUN_CONFIG.read_text())["model"]
    shipped = json.loads((longrun.ROOT / "checkpoints" / "celeba64" / "card.json").read_text())["training"]
    history = json.loads(state["history"])
    assert history["images_seen"] == shipped["images_seen"] + 4
    assert history["commits"][-1] == "c0ffee"
    head = load_file(str(payload / "start" / "teacher_head.safetensors"))["mlp.0.weight"]
    assert float((state["head"]["mlp.0.weight"] - head).abs().max()) < 0.01  # the run's head, not a fresh one
    # what comes back is a checkpoint the CPU run warm-starts from
    assert {path.name for path in out.iterdir()} >= {"model.safetensors", "teacher_head.safetensors", "card.json"}
    received = subprocess.run([*gpu_payload, "receive", str(out), "--run-dir", str(tmp_path / "run")],
                              cwd=longrun.ROOT, check=True, capture_output=True, text=True, timeout=60)
    assert f"D2C_WARM_START={out} make train" in received.stdout
