"""A tiny Llama with a locally trained small-vocabulary tokenizer, built at test time."""

import json
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
BYTE_TOKENS = [f"<0x{i:02X}>" for i in range(256)]


def train_tokenizer(texts: list[str], vocab_size: int = 800):
    """A Llama-style BPE tokenizer (byte fallback) that llama.cpp's converter understands."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    tokenizer.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(content=" ", left=1, right=0),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + BYTE_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        pad_token="</s>",
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(target: Path, texts: list[str], intermediate_size: int = 128) -> Path:
    """Save a randomly initialised 2-layer Llama and its tokenizer as a Hugging Face folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(texts)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=intermediate_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / "tiny_model.json").write_text(json.dumps({"built_by": __name__}))
    return target


def steered_end_of_turn(source: Path, target: Path, always: bool) -> Path:
    """A copy of a tiny model that always ends its turn at once, or can never end it.

    Every token's embedding gets one large shared dimension, so after RMSNorm the last hidden
    state always points the same way there; the special tokens' output rows point against it,
    and end-of-turn's row with it (always) or against it too (never).
    """
    import shutil

    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    special = [tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS]
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 100.0
        model.lm_head.weight[special, 0] = -50.0
        model.lm_head.weight[tokenizer.eos_token_id, 0] = 50.0 if always else -50.0
    shutil.copytree(source, target)  # the tokenizer and template, unchanged
    model.save_pretrained(target)
    return target


def memorizing(source: Path, target: Path, sequences: list[list[int]], steps: int = 300):
    """A copy of a tiny model trained in full, over and over, on a few token sequences."""
    import shutil

    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(source)
    longest = max(len(s) for s in sequences)
    ids = torch.tensor([s + [0] * (longest - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in sequences])
    batch = {"input_ids": ids, "attention_mask": mask}
    labels = ids.masked_fill(mask == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    shutil.copytree(source, target)
    model.save_pretrained(target)
    return target
