"""The illustrative demo consortium: made-up labs whose magnitudes come from public figures.

The figures live in `labs.json` (with the sources they are scaled from); `loader.demo_load`
writes them through the same services the pages and the API use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_PATH = Path(__file__).with_name("labs.json")


def demo_data() -> dict[str, Any]:
    return json.loads(DATA_PATH.read_text())
