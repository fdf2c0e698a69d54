"""What a worker process loads once: the D2C model, the built-in attributes, the face models.

User attributes are read from Redis when first used and re-read only when their version changes, so
attributes defined after the worker started are picked up without a restart.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from redis import Redis

from contract import attributes
from contract.payloads import Condition
from contract.settings import WorkerSettings
from faces.detection import FaceFinder
from faces.identity import FaceEmbedder
from model.attributes import (
    AttributeClassifier,
    builtin_directory,
    fit_binary,
    latent_covariance,
    load_skin_readout,
    load_unlabeled_pool,
)
from model.checkpoint import POOL_FILE, load_model
from model.teacher import Teacher, load_teacher
from workers.errors import JobInputError

log = logging.getLogger(__name__)
_installed: Runtime | None = None


def load_builtins(checkpoint: str | Path) -> dict[str, AttributeClassifier]:
    directory = builtin_directory(checkpoint)
    if not directory.is_dir():
        return {}
    names = sorted(path.stem for path in directory.glob("*.json") if path.with_suffix(".safetensors").is_file())
    return {name: AttributeClassifier.load(directory, name) for name in names}


class Runtime:
    def __init__(self, settings: WorkerSettings, redis: Redis, device: str = "cpu", backend: str = "torch"):
        self.settings = settings
        self.redis = redis
        self.device = device
        model = load_model(settings.checkpoint, device)
        if backend == "onnx":
            from workers.onnx_backend import with_onnx_networks

            model = with_onnx_networks(model, settings.checkpoint, device, settings.worker_threads or None)
        self.model = model
        self.builtins = load_builtins(settings.checkpoint)
        self.faces = FaceFinder()  # detector and 5-point landmarks
        self.identity = FaceEmbedder(self.faces)  # the edited faces' identity distance
        self._user: dict[str, tuple[str, AttributeClassifier]] = {}  # name -> (fitting job id, classifier)
        self._pool: torch.Tensor | None = None
        self._covariance: torch.Tensor | None = None
        self._teacher: Teacher | None = None
        self.skin_readout = load_skin_readout(settings.checkpoint)  # None: the checkpoint ships none
        for name in attributes.names(redis):
            if name not in self.builtins:
                try:
                    self._refresh(name)
                except Exception:  # one unreadable attribute must not keep the worker from starting
                    log.exception("cannot load attribute %s; it will be retried when used", name)
        self.warm_up()

    def warm_up(self) -> None:
        """Pay torch's one-time costs (kernels, L-BFGS, autograd; ~4 s on a CPU) at start, not in a user's job."""
        generator = torch.Generator().manual_seed(0)
        latents = self.model.encode(torch.rand(4, 3, self.resolution, self.resolution, generator=generator))
        self.model.decode(latents)
        shape = (6, *latents.shape[1:])
        fit_binary("warm_up", torch.randn(shape, generator=generator) + 1, torch.randn(shape, generator=generator))
        self.teacher()  # its pool features and distillation matrix, computed once

    @property
    def resolution(self) -> int:
        return self.model.config.resolution

    def publish_builtins(self) -> None:
        for name, classifier in self.builtins.items():
            attributes.publish_builtin(self.redis, name, classifier.kind, classifier.metadata)

    def _refresh(self, name: str) -> AttributeClassifier | None:
        stored = attributes.read_weights(self.redis, name)
        if stored is None:
            return None
        token, weights, info = stored
        classifier = AttributeClassifier.from_bytes(weights, info)
        self._user[name] = (token, classifier)
        log.info("loaded attribute %s (job %s)", name, token)
        return classifier

    def classifier(self, name: str) -> AttributeClassifier:
        if name in self.builtins:
            return self.builtins[name]
        cached = self._user.get(name)
        if cached is not None and cached[0] == attributes.fitted_by(self.redis, name):
            return cached[1]
        classifier = self._refresh(name)
        if classifier is None:
            raise unavailable(self.redis, name)
        return classifier

    def conditions(self, conditions: list[Condition]) -> list[tuple[AttributeClassifier, bool]]:
        return [(self.classifier(condition.name), condition.target) for condition in conditions]

    def unlabeled_pool(self) -> torch.Tensor:
        if self._pool is None:
            self._pool = load_unlabeled_pool(self.settings.checkpoint)
        return self._pool

    @property
    def has_pool(self) -> bool:
        return (Path(self.settings.checkpoint) / POOL_FILE).is_file()

    def latent_covariance(self) -> torch.Tensor | None:
        """The checkpoint's latent covariance (from its unlabeled pool) that sets edit directions; None without
        a pool."""
        if self._covariance is None and self.has_pool:
            self._covariance = latent_covariance(self.unlabeled_pool())
        return self._covariance

    def teacher(self) -> Teacher | None:
        """The checkpoint's teacher for binary and PU fits (model/teacher.py); None without a head or a pool."""
        if self._teacher is None and self.has_pool:
            self._teacher = load_teacher(self.settings.checkpoint, self.unlabeled_pool())
        return self._teacher


def unavailable(redis: Redis, name: str) -> JobInputError:
    """Why a user attribute a queued job names cannot be used now: deleted (404), or retrained or failed (409)."""
    record = attributes.get(redis, name)
    if record is None:
        return JobInputError(f"attribute {name!r} was deleted after this job was queued", 404)
    if record["status"] == attributes.TRAINING:
        return JobInputError(f"attribute {name!r} is being retrained (version {record.get('version')}) since this "
                             f"job was queued; retry when GET /attributes/{name} says ready", 409)
    return JobInputError(f"attribute {name!r} is not ready: {record.get('error') or record['status']}", 409)


def install(runtime: Runtime) -> None:
    global _installed
    _installed = runtime


def current() -> Runtime:
    if _installed is None:
        raise RuntimeError("no model runtime in this process: start workers with python -m workers")
    return _installed
