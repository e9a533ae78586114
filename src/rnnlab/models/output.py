"""What every network returns, so one training module serves every architecture."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor


class Encoded(NamedTuple):
    """An encoder's view of a batch."""

    steps: Tensor  # (B, T, E) per-step features, zero at padded steps
    summary: Tensor  # (B, E) one vector per sequence
    aux_loss: Tensor  # () extra training cost (e.g. ACT's ponder cost); 0 for plain RNNs
    attention: Tensor | None = None  # (B, T) weights of an attention-pooled summary; None without attention


@runtime_checkable
class Encoder(Protocol):
    """What the registry builds for every architecture and a task head reads: a module from a padded
    batch — x (B, T, D) features or (B, T) token ids, lengths (B,) — to its ``Encoded`` view, with
    ``output_size`` = E, the width of ``steps`` and ``summary``."""

    output_size: int

    def __call__(self, x: Tensor, lengths: Tensor) -> Encoded: ...


class ModelOutput(NamedTuple):
    """A task model's output: the prediction plus the encoder's extra cost."""

    prediction: Tensor  # classify: (B, C) logits
    aux_loss: Tensor  # () added to the task loss by the training module
    attention: Tensor | None = None  # (B, L, T) a decoder's alignments, or (B, T) pooling weights
