"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1, CC0) run by torch, weights read from its file.

dlib's own CPU build in the `dlib-bin` wheel has no BLAS: a changed face's before and after chips took 0.35-0.38 s
there on one thread, most of a one-face edit job. The same network in torch computes the same embedding.

The network (dlib's examples/dnn_face_recognition_ex.cpp): a 7x7 stride-2 convolution, max pooling, then residual
blocks of two 3x3 convolutions, each followed by an affine (frozen batch-norm) layer, at 32, 64, 128 and 256
channels; a block that halves the resolution adds a 2x2 average pool of its input, zero-padded to the block's
channels and size as dlib's add_prev does; global average pooling and a 128-D linear map without bias.
The file is dlib's serialisation: layers from the input up, tensors as little-endian float32.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

MEAN_RGB = (122.782, 117.001, 104.298)  # input_rgb_image_sized subtracts these, then divides by 256
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))  # width, blocks, first halves
# (rows, columns, stride y, stride x, padding y, padding x): the stem's max pool, each halving block's average pool,
# then the global average (0 x 0 stands for "everything")
POOLS = [(3, 3, 2, 2, 0, 0), *[(2, 2, 2, 2, 0, 0)] * 4, (0, 0, 1, 1, 0, 0)]
LAYER_TAGS = re.compile(rb"\x01(?:\x05con_4|\x07affine_|\x04fc_2|\x0amax_pool_2|\x0aavg_pool_2)")


class _Reader:
    """dlib's serialisation of integers (a size byte, 0x80 when negative, then little-endian bytes) and tensors."""

    def __init__(self, data: bytes, offset: int):
        self.data, self.offset = data, offset

    def integer(self) -> int:
        control = self.data[self.offset]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.offset + 1 : self.offset + 1 + size], "little")
        self.offset += 1 + size
        return -value if control & 0x80 else value

    def string(self) -> str:
        size = self.integer()
        text = self.data[self.offset : self.offset + size].decode("ascii")
        self.offset += size
        return text

    def tensor(self) -> np.ndarray:
        self.integer()  # format version
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.offset)
        self.offset += 4 * count
        return values


@dataclass
class _Convolution:
    weight: torch.Tensor
    bias: torch.Tensor
    stride: int
    padding: int


def read_layers(path: str | Path) -> dict[str, list]:
    """The network's parameter and pooling layers in input-to-output order, by kind."""
    data = Path(path).read_bytes()
    layers: dict[str, list] = {"con": [], "affine": [], "fc": [], "pool": []}
    for match in LAYER_TAGS.finditer(data):
        reader = _Reader(data, match.start())
        kind = reader.string()
        if kind == "con_4":
            params = reader.tensor()
            filters, rows, columns, stride, _, padding, _ = (reader.integer() for _ in range(7))
            inputs = (len(params) - filters) // (filters * rows * columns)
            weight = torch.from_numpy(params[: filters * inputs * rows * columns].copy())
            layers["con"].append(_Convolution(weight.reshape(filters, inputs, rows, columns),
                                              torch.from_numpy(params[-filters:].copy()), stride, padding))
        elif kind == "affine_":
            params = torch.from_numpy(reader.tensor().copy())
            layers["affine"].append(params.reshape(2, -1))  # gamma then beta, one per channel
        elif kind == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            layers["fc"].append(torch.from_numpy(params[: inputs * outputs].copy()).reshape(inputs, outputs).t())
        else:
            layers["pool"].append(tuple(reader.integer() for _ in range(6)))  # rows, columns, strides, paddings
    return layers


def _add_padded(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum over the larger of the two shapes, each zero-padded at its end."""
    shape = [max(a, b) for a, b in zip(first.shape, second.shape, strict=True)]

    def padded(tensor: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, target in zip(reversed(tensor.shape), reversed(shape), strict=True):
            pads += [0, target - size]
        return F.pad(tensor, pads)

    return padded(first) + padded(second)


class FaceEmbeddingNet(nn.Module):
    """RGB face chips (N x 150 x 150 x 3, uint8) -> (N, 128) embeddings, as dlib's compute_face_descriptor."""

    def __init__(self, path: str | Path):
        super().__init__()
        try:
            layers = read_layers(path)
        except (IndexError, ValueError, ZeroDivisionError) as error:  # a truncated or foreign file
            raise ValueError(f"{path} is not dlib's face-recognition ResNet: {error}") from error
        convolutions, affines = layers["con"], layers["affine"]
        expected = 1 + 2 * sum(blocks for _, blocks, _ in STAGES)
        if (len(convolutions), len(affines), len(layers["fc"]), layers["pool"]) != (expected, expected, 1, POOLS):
            raise ValueError(f"{path} is not dlib's face-recognition ResNet: {len(convolutions)} convolutions, "
                             f"{len(affines)} affine and {len(layers['fc'])} fc layers, pools {layers['pool']} "
                             f"(expected {expected}, {expected}, 1 and {POOLS})")
        self.convolutions, self.affines = convolutions, affines
        self.register_buffer("projection", layers["fc"][0])
        self.register_buffer("mean", torch.tensor(MEAN_RGB).reshape(1, 3, 1, 1))

    def _conv_affine(self, x: torch.Tensor, index: int) -> torch.Tensor:
        conv, (gamma, beta) = self.convolutions[index], self.affines[index]
        x = F.conv2d(x, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding)
        return x * gamma[None, :, None, None] + beta[None, :, None, None]

    @torch.no_grad()
    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - self.mean) / 256
        x = F.max_pool2d(F.relu(self._conv_affine(x, 0)), 3, 2)
        index = 1
        for _, blocks, halves in STAGES:
            for block in range(blocks):
                down = halves and block == 0
                h = F.relu(self._conv_affine(x, index))
                h = self._conv_affine(h, index + 1)
                x = F.relu(_add_padded(h, F.avg_pool2d(x, 2, 2) if down else x))
                index += 2
        return x.mean(dim=(2, 3)) @ self.projection.t()
