"""How the measurement scripts beside this file print what they measured: one JSON line, or key: value lines."""

from __future__ import annotations

import json


def print_result(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")
