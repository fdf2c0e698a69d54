"""`--backend onnx`: the model's encoder, decoder and denoiser replaced by ONNX Runtime sessions.

The torch D2C object keeps its sampling and correction logic; only the three networks run in ORT,
from checkpoint/onnx/{encoder,decoder,denoiser}.onnx as written by `python -m pipelines.export`.
`--backend auto` (the default) takes ORT on the CPU whenever the checkpoint has the export: `python -m bench` row 2
measures the worker's edit path faster there (batch 1: 1.74x on an AMD EPYC, 1.14x on an Intel Xeon; batch 16:
1.28x and 1.04x). On CUDA it takes torch.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from model.checkpoint import ONNX_DIR
from model.d2c import D2C
from model.onnx import onnx_session

NETWORKS = ("encoder", "decoder", "denoiser")
BACKENDS = ("auto", "torch", "onnx")


def missing_networks(checkpoint: str | Path) -> list[Path]:
    directory = Path(checkpoint) / ONNX_DIR
    return [directory / f"{name}.onnx" for name in NETWORKS if not (directory / f"{name}.onnx").is_file()]


def chosen_backend(requested: str, checkpoint: str | Path, device: str) -> str:
    """The backend a worker runs: `requested`, or for "auto" ONNX Runtime on the CPU when the export is there."""
    if requested != "auto":
        return requested
    return "onnx" if device == "cpu" and not missing_networks(checkpoint) else "torch"


class OnnxNetwork(nn.Module):
    def __init__(self, session, input_names: list[str], returns_pair: bool = False):
        super().__init__()
        self.session = session
        self.input_names = input_names
        self.returns_pair = returns_pair  # the torch encoder returns (mean, log_var); the export keeps the mean

    def forward(self, *inputs: torch.Tensor):
        feeds = {name: tensor.detach().float().cpu().numpy() for name, tensor in zip(self.input_names, inputs)}
        output = torch.from_numpy(self.session.run(None, feeds)[0]).to(inputs[0].device)
        return (output, None) if self.returns_pair else output


def with_onnx_networks(model: D2C, checkpoint: str | Path, device: str, threads: int | None = None) -> D2C:
    directory = Path(checkpoint) / ONNX_DIR
    missing = missing_networks(checkpoint)
    if missing:
        raise FileNotFoundError(f"--backend onnx needs {', '.join(str(path) for path in missing)}; "
                                f"run python -m pipelines.export --checkpoint {checkpoint}")
    providers = [*(["CUDAExecutionProvider"] if device.startswith("cuda") else []), "CPUExecutionProvider"]
    # threads: the same cap as torch's (WORKER_THREADS), else each worker's sessions take every core
    sessions = {name: onnx_session(directory / f"{name}.onnx", threads, providers) for name in NETWORKS}
    model.encoder = OnnxNetwork(sessions["encoder"], ["image"], returns_pair=True)
    model.decoder = OnnxNetwork(sessions["decoder"], ["latent"])
    model.denoiser = OnnxNetwork(sessions["denoiser"], ["noisy_latent", "alpha"])
    return model
