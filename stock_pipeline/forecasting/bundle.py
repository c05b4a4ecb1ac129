"""Where a trained model lives on disk: ``model.keras`` beside ``bundle.json``.

Reading a bundle's recorded facts needs no keras; ``training.TrainedModel`` loads the
network itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL_FILE = "model.keras"
BUNDLE_FILE = "bundle.json"


def read_meta(folder: Path) -> dict[str, Any]:
    """The bundle's recorded facts (scalers included) without loading the network."""
    return json.loads((folder / BUNDLE_FILE).read_text())


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))


def has_bundle(folder: Path) -> bool:
    return (folder / BUNDLE_FILE).exists() and (folder / MODEL_FILE).exists()
