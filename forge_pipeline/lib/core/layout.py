"""Where each stage keeps its artifacts under FORGE_HOME."""

import json
from pathlib import Path

from forge_pipeline.lib.core.artifacts import sha256_file
from forge_pipeline.lib.core.config import Settings


class Layout:
    """One place that names every artifact path, so stages agree on them."""

    def __init__(self, settings: Settings):
        root = settings.artifacts_dir
        self.notes = root / "vault_notes" / "notes.arrow"
        self.examples = root / "reflection_examples" / "examples.jsonl"
        self.extraction_cache = root / "reflection_examples" / "by_note.arrow"
        self.gemini_questions = root / "reflection_examples" / "gemini_questions.json"
        self.dataset_examples = root / "dataset_examples" / "examples.jsonl"
        self.train = root / "curated_dataset" / "train.jsonl"
        self.val = root / "curated_dataset" / "val.jsonl"
        self.curated_stats = root / "curated_dataset" / "stats.json"
        self.token_counts = root / "curated_dataset" / "token_counts.json"
        self.study = root / "dataset_study" / "study.md"
        self.adapter = root / "lora_adapter"
        self.checkpoints = root / "lora_adapter-checkpoints"
        self.merged = root / "merged_model"
        self.gguf_dir = root / "gguf_model"
        self.val_scores = root / "gguf_model-scores" / "val_nll.json"
        self.evaluation = root / "model_evaluation" / "evaluation.json"
        self.answers = root / "model_evaluation" / "answers.json"

    def gguf(self, gguf_type: str) -> Path:
        """The exported GGUF of one type."""
        return self.gguf_dir / f"model-{gguf_type}.gguf"

    def dataset_version(self) -> str:
        """A short content version of the curated train and val files."""
        return sha256_file(self.train)[:8] + sha256_file(self.val)[:8]

    def tokens_p95(self) -> int | None:
        """The curated set's 95th percentile of conversation tokens, once it is materialized."""
        if not self.curated_stats.exists():
            return None
        return json.loads(self.curated_stats.read_text())["tokens_p95"]

    @staticmethod
    def require(path: Path, asset: str) -> Path:
        """The path, or a clear error naming the asset to materialize first."""
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; materialize {asset} first.")
        return path
