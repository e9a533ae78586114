"""What every network returns, so one training module serves every architecture."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class Encoded(NamedTuple):
    """An encoder's view of a batch."""

    steps: Tensor  # (B, T, E) per-step features, zero at padded steps
    summary: Tensor  # (B, E) one vector per sequence
    aux_loss: Tensor  # () extra training cost (e.g. ACT's ponder cost); 0 for plain RNNs
    attention: Tensor | None = None  # (B, T) weights of an attention-pooled summary; None without attention


class ModelOutput(NamedTuple):
    """A task model's output: the prediction plus the encoder's extra cost."""

    prediction: Tensor  # classify: (B, C) logits
    aux_loss: Tensor  # () added to the task loss by the training module
    attention: Tensor | None = None  # (B, T_out, T) a decoder's alignments, or (B, T) pooling weights
