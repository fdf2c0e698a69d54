"""The one-line summary of the faces an edit found (frontend/faces.js), run in Node: counts, identity distances
numbered only when some face has none, and the workers' notes."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.deployment import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (apt-get install -y nodejs)")

HARNESS = """
const vm = require("vm");
const fs = require("fs");
const context = {};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8") + "\\nthis.facesSummary = facesSummary;", context);
console.log(JSON.stringify(context.facesSummary(JSON.parse(process.argv[2]))));
"""


def summary(faces: list[dict]) -> str:
    result = subprocess.run([NODE, "-e", HARNESS, str(ROOT / "frontend" / "faces.js"), json.dumps(faces)],
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def face(changed: bool = True, distance: float | None = None, note: str | None = None) -> dict:
    return {"box": [0, 0, 10, 10], "landmarks": None, "aligned": True, "changed": changed,
            "identity_distance": distance, "note": note}


def test_every_face_edited_lists_the_distances_in_order():
    assert summary([face(distance=0.312), face(distance=0.418)]) == (
        "2 faces found, 2 edited; identity distance 0.31, 0.42 (same person under 0.6).")


def test_a_face_left_unchanged_numbers_the_distances_and_says_why():
    note = "already has every asked attribute; left unchanged"
    assert summary([face(changed=False, note=note), face(distance=0.5)]) == (
        "2 faces found, 1 edited; identity distance face 2: 0.50 (same person under 0.6). "
        "Face 1: already has every asked attribute; left unchanged.")


def test_one_face_and_none():
    assert summary([face(changed=False, note="already has every asked attribute; left unchanged")]) == (
        "1 face found, 0 edited. Already has every asked attribute; left unchanged.")
    assert summary([]) == "No face found."
