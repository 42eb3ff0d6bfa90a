"""JSON lines written from Arrow buffers: the same bytes as writing each string.

Does not touch: Dagster, models.
"""

import pyarrow as pa

from forge_pipeline.lib.core.jsonl import write_arrow_lines


def test_arrow_lines_are_written_whole_from_sliced_empty_and_non_ascii_chunks(tmp_path):
    lines = ['{"a": "café"}', '{"b": "naïve — yes"}', '{"c": 3}', '{"d": "日記"}']
    sliced = pa.array(["dropped", *lines[:2], "dropped too"])[1:3]  # a chunk that starts at 1
    chunks = pa.chunked_array([sliced, pa.array([], pa.string()), pa.array(lines[2:])])
    path = tmp_path / "examples.jsonl"
    write_arrow_lines(path, chunks)
    assert path.read_text(encoding="utf-8") == "".join(line + "\n" for line in lines)

    write_arrow_lines(path, pa.chunked_array([], pa.string()))
    assert path.read_bytes() == b""
