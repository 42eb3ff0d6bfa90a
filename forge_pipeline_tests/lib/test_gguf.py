"""GGUF validation refuses bad files with one clear message.

Does not touch: the converter (test_chain_tiny.py runs it).
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.gguf_export import GGUFError, validate_gguf


def test_not_a_gguf_is_refused_before_loading(tmp_path: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 definitely not gguf")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        validate_gguf(path, "hi", "sys")


def test_truncated_gguf_is_refused(tmp_path: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 20)
    with pytest.raises(GGUFError, match="cannot load"):
        validate_gguf(path, "hi", "sys")
