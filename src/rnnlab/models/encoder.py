"""Recurrent encoder: a RecurrentStack seen as (per-step features, per-sequence summary)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models.output import Encoded
from rnnlab.nn.stack import RecurrentStack


class RecurrentEncoder(nn.Module):
    """Summary = forward direction's output at each sequence's last real step, concatenated with
    the backward direction's output at step 0 (where the reversed pass ends): torch's h_n of the
    top layer, read from the outputs so it holds for any cell's state layout."""

    def __init__(self, stack: RecurrentStack) -> None:
        super().__init__()
        self.stack = stack

    @property
    def input_size(self) -> int:
        return self.stack.input_size

    @property
    def output_size(self) -> int:
        return self.stack.output_size

    def forward(self, x: Tensor, lengths: Tensor) -> Encoded:
        steps, _ = self.stack(x, lengths)  # (B, T, K·H)
        H = self.stack.output_size // self.stack.directions
        last = (lengths.to(steps.device) - 1).view(-1, 1, 1).expand(-1, 1, H)  # (B, 1, H)
        forward_last = steps[..., :H].gather(1, last).squeeze(1)  # (B, H)
        parts = [forward_last] + ([steps[:, 0, H:]] if self.stack.bidirectional else [])
        return Encoded(steps, torch.cat(parts, dim=-1), steps.new_zeros(()))
