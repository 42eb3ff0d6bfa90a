"""SFTTrainer with transformers' own loss on its labels, and the LM head only where they count."""

import torch.nn.functional as F
from transformers import Trainer
from trl.trainer.sft_trainer import SFTTrainer

IGNORED = -100  # the label of every token outside the answers


class PlainLossSFTTrainer(SFTTrainer):
    """TRL's data handling and collator, with the loss computed the way transformers does.

    SFTTrainer computes the loss through a chunked LM head that also works out per-token entropy
    and accuracy for its logs; on a CPU that costs ~15% of every step (bench/bench_train.py).
    The labels are the same (-100 outside the answers), so the loss is too. In training the LM
    head (a 49k-wide matmul and softmax per token on the default model) runs only on the
    positions that have a label, not on the prompts, which the loss ignores anyway.
    """

    answer_logits_only = True  # off for Unsloth, whose patched model fuses its own loss
    labelled_tokens = 0  # tokens the LM head ran on in training, for the throughput figures

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Summed cross-entropy of the labelled tokens over the tokens in the accumulated batch."""
        unwrapped = self.accelerator.unwrap_model(model)
        causal_lm = getattr(unwrapped, "get_base_model", lambda: unwrapped)()  # under PEFT
        if (
            return_outputs
            or not self.answer_logits_only
            or num_items_in_batch is None
            or not self.model_accepts_loss_kwargs
            or "labels" not in inputs
            or "shift_labels" in inputs
            or not hasattr(causal_lm, "lm_head")
        ):
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
        hidden = causal_lm.get_decoder()(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            position_ids=inputs.get("position_ids"),
        ).last_hidden_state
        targets = inputs["labels"][:, 1:]
        counted = targets != IGNORED
        self.labelled_tokens += int(counted.sum())
        logits = causal_lm.lm_head(hidden[:, :-1][counted])
        # As transformers' ForCausalLMLoss: fp32 logits, summed, over the accumulated count.
        loss = F.cross_entropy(logits.float(), targets[counted], reduction="sum")
        return loss / num_items_in_batch
