"""ONNX: export a checkpoint's encoder, decoder and denoiser (with torch-vs-ONNX parity), and open sessions on them.

The command line is `python -m pipelines.export`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from model.checkpoint import ONNX_DIR, load_model


class EncoderMean(nn.Module):
    """Image -> posterior mean, the only encoder output inference needs."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image)[0]


def onnx_session(path: str | Path, threads: int | None = None, providers: list[str] | None = None):
    """An ONNX Runtime session with thread spinning off, so back-to-back sessions do not starve each other."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def export(checkpoint: str | Path, batch: int = 2) -> dict[str, float]:
    """Write onnx/{encoder,decoder,denoiser}.onnx (dynamic batch) and return the max abs diff of each against torch."""
    checkpoint = Path(checkpoint)
    model = load_model(checkpoint)
    config = model.config
    (checkpoint / ONNX_DIR).mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, config.resolution, config.resolution, generator=generator)
    latents = torch.randn(batch, *config.latent_shape, generator=generator)
    alphas = torch.rand(batch, generator=generator).clamp(0.01, 0.99)
    networks = {
        "encoder": (EncoderMean(model.encoder).eval(), (images,), ["image"], ["latent"]),
        "decoder": (model.decoder, (latents,), ["latent"], ["image"]),
        "denoiser": (model.denoiser, (latents, alphas), ["noisy_latent", "alpha"], ["noise"]),
    }
    parity = {}
    for name, (network, inputs, input_names, output_names) in networks.items():
        path = checkpoint / ONNX_DIR / f"{name}.onnx"
        batch_dim = torch.export.Dim("batch", min=1, max=1024)
        dynamic = {input_name: {0: batch_dim} for input_name in input_names}
        torch.onnx.export(
            network,
            inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=dict(zip(network.forward.__code__.co_varnames[1 : 1 + len(inputs)], dynamic.values())),
            opset_version=18,
            external_data=False,
            dynamo=True,
        )
        session = onnx_session(path)
        # parity on a batch size other than the export one, to prove the batch axis is really dynamic
        test_inputs = [torch.cat([tensor, tensor[:1]]) for tensor in inputs]
        expected = network(*test_inputs).detach().numpy()
        actual = session.run(None, {key: tensor.numpy() for key, tensor in zip(input_names, test_inputs)})[0]
        parity[name] = float(abs(expected - actual).max())
    return parity
