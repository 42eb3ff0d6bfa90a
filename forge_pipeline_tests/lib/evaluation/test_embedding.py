"""The sentence-embedding model taken from its pinned PyPI wheel, and similarity by meaning.

Does not touch: llama.cpp, Dagster.
"""

from forge_pipeline.lib.evaluation.embedding import prepare_embedding_model, similarities
from forge_pipeline_tests.helpers import SHARED_CACHE


def test_answers_close_in_meaning_score_higher_than_unrelated_ones():
    model = prepare_embedding_model(SHARED_CACHE / "models")
    assert (model / "model.safetensors").exists() and (model / "tokenizer.json").exists()
    own = "A long walk by the river calmed me down after work."
    close, far = similarities(
        model,
        ["Walking along the water after my shift made me calm.", "The invoice is due Friday."],
        [own, own],
    )
    assert close > 0.5 > far
    assert prepare_embedding_model(SHARED_CACHE / "models") == model  # taken once
