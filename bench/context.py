"""What the rows of one run share: the options, the workload, and a deployment started when first needed."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property

from bench.deployment import deployment
from bench.workload import Workload


@dataclass
class Bench:
    options: argparse.Namespace
    workload: Workload
    cleanup: ExitStack

    @property
    def quick(self) -> bool:
        return self.options.quick

    @property
    def device(self) -> str:
        return self.options.device

    @property
    def threads(self) -> int:
        return self.options.threads

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @cached_property
    def service_url(self) -> str:
        """A `make run`-style deployment (one worker, default settings), shared by the service rows."""
        started = deployment(self.workload.checkpoint, workers=1, threads=self.threads, device=self.device)
        return self.cleanup.enter_context(started)
