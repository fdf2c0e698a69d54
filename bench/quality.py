"""Row 7: edit quality vs the number of diffusion-correction (DDIM) steps, judged by the independent oracle.

Each built-in edit is measured exactly as pipelines.evaluate_conditions measures it, added (on test faces lacking
the attribute) and removed (on faces that have it), judged on the delivered photo: success = the oracle sees the
asked state afterwards, preservation = the oracle's other 39 attributes unchanged. Only correction_steps varies;
the rest are each attribute's tuned defaults.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from functools import partial
from pathlib import Path

from bench.table import Row, Target, not_measured
from bench.timing import timed
from model.attributes import AttributeClassifier, builtin_directory
from model.checkpoint import load_model
from model.data import load_dataset
from model.manipulation import default_settings
from pipelines.builtins import BUILTINS
from pipelines.evaluate_conditions import evaluate_edits
from pipelines.oracle import load_oracle

STEPS = (2, 5, 10, 25, 50)
PLATEAU = 0.01  # success within 1 point of the best (10 of 1,000 paired edits) counts as "no longer improving"
TARGET = Target(">=", 0.98)  # success at the shipped default / best success
NAME = "edit success at the shipped correction steps / best over 2-50 steps (oracle)"


def with_correction_steps(classifier: AttributeClassifier, steps: int) -> AttributeClassifier:
    metadata = dict(classifier.metadata)
    for key in ("defaults", "remove_defaults"):  # adding and removing each have their tuned settings
        metadata[key] = {**metadata.get(key, {}), "correction_steps": steps}
    return replace(classifier, metadata=metadata)


def measure(bench) -> list[Row]:
    checkpoint, data, oracle_dir = bench.workload.checkpoint, Path(bench.options.data), Path(bench.options.oracle)
    wanted = [bench.workload.attribute] if bench.quick else list(BUILTINS)
    attributes = [
        name for name in wanted if name in BUILTINS and (builtin_directory(checkpoint) / f"{name}.json").is_file()
    ]
    needs = {
        f"the oracle ({oracle_dir})": (oracle_dir / "oracle.json").is_file(),
        f"labelled faces ({data})": (data / "attributes.csv").is_file(),
        f"built-in attributes ({builtin_directory(checkpoint)})": bool(attributes),
    }
    missing = [need for need, present in needs.items() if not present]
    if missing:
        return [not_measured("7", NAME, TARGET, "not run: needs " + ", ".join(missing) + ", absent here")]
    model = load_model(checkpoint)  # pipelines.evaluate_conditions measures on the CPU
    oracle, names = load_oracle(oracle_dir)
    test = load_dataset(data, split="test", resolution=model.config.resolution)
    count, steps_tried = (
        bench.size(bench.options.images, min(bench.options.images, 8)),
        STEPS if not bench.quick else STEPS[:2],
    )
    success, preservation, seconds = {}, {}, {}
    for steps in steps_tried:
        results = []
        for name in attributes:
            classifier = with_correction_steps(AttributeClassifier.load(builtin_directory(checkpoint), name), steps)
            for target in (True, False):
                elapsed, result = timed(partial(evaluate_edits, model, oracle, names, test, classifier, BUILTINS[name],
                                                target, count, 100, 0, None, curve=False))
                results.append(result["paper"])
                seconds[steps] = seconds.get(steps, 0.0) + elapsed
        success[steps] = statistics.mean(result["success"] for result in results)
        preservation[steps] = statistics.mean(result["preservation"] for result in results)
    best = max(success.values())
    plateau = min(steps for steps in steps_tried if success[steps] >= best - PLATEAU)
    shipped = default_settings(
        [(AttributeClassifier.load(builtin_directory(checkpoint), attributes[0]), True)]
    ).correction_steps
    figures = "; ".join(
        f"{steps} steps: success {success[steps]:.3f}, preservation {preservation[steps]:.3f}" for steps in steps_tried
    )
    note = (
        f"quality stops improving at {plateau} steps (success within {PLATEAU * 100:.0f} points of the best), "
        f"so {plateau} is the default to ship (shipped: {shipped}); "
        f"{count} test faces x {len(attributes)} built-ins ({', '.join(attributes)}) x added and removed, "
        "paper mode; "
        f"evaluation time {seconds[steps_tried[0]]:.0f} s at {steps_tried[0]} steps, "
        f"{seconds[steps_tried[-1]]:.0f} s at {steps_tried[-1]}"
    )
    ratio = success[shipped] / best if shipped in success else None
    return [Row("7", NAME, figures, ratio, target=TARGET, note=note)]
