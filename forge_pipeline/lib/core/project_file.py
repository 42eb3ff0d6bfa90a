"""The person's own YAML files beside forge.yaml (review, forget), read with one clear error."""

from pathlib import Path
from typing import Any

import yaml


def read_mapping(path: Path, keys: set[str], error: type[ValueError], name: str) -> dict[str, Any]:
    """The file as a mapping holding only `keys`; empty when there is no file."""
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{name} {path} is not valid YAML ({exc}); fix it.") from exc
    if not isinstance(raw, dict) or set(raw) - keys:
        raise error(f"{name} {path} may hold only {', '.join(sorted(keys))}; fix it.")
    return raw
