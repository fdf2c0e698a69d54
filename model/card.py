"""Render a checkpoint's card.json as the human-readable card.md."""

from __future__ import annotations

import json

CELEBA_TERMS = (
    'Trained on CelebA (Liu, Luo, Wang and Tang, "Deep Learning Face Attributes in the Wild", ICCV 2015). '
    "CelebA's images may be used for non-commercial research and educational purposes only; this checkpoint "
    "and everything generated with it inherit that restriction."
)


def _section(title: str, values) -> list[str]:
    if isinstance(values, dict):
        rows = [
            f"| {key} | {json.dumps(value) if isinstance(value, (dict, list)) else value} |"
            for key, value in values.items()
        ]
        return [f"## {title}", "", "| key | value |", "| --- | --- |", *rows, ""]
    return [f"## {title}", "", str(values), ""]


def render_card(card: dict) -> str:
    lines = ["# D2C checkpoint model card", ""]
    for key in ("summary", "latent_choice", "data", "training", "metrics", "ablation", "export", "attributes"):
        if key in card:
            lines += _section(key.replace("_", " ").capitalize(), card[key])
    for key, value in card.items():
        if key not in (
            "summary",
            "latent_choice",
            "data",
            "training",
            "metrics",
            "ablation",
            "export",
            "attributes",
            "terms",
        ):
            lines += _section(key.replace("_", " ").capitalize(), value)
    lines += _section("Terms of use", card.get("terms", CELEBA_TERMS))
    return "\n".join(lines)
