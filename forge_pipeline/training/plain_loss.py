"""SFTTrainer with transformers' own loss on its labels (answers only where they are marked)."""

from transformers import Trainer
from trl import SFTTrainer


class PlainLossSFTTrainer(SFTTrainer):
    """TRL's data handling and collator, with the loss computed the way transformers does.

    SFTTrainer computes the loss through a chunked LM head that also works out per-token entropy
    and accuracy for its logs; on a CPU that costs ~15% of every step (bench/bench_train.py).
    The labels are the same (-100 outside the answers), so the loss is too.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's own cross-entropy on the labels TRL's collator made."""
        return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
