"""Recurrent encoder: a RecurrentStack seen as (per-step features, per-sequence summary)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models.output import Encoded
from rnnlab.nn.attention import Attention, AttentionPooling, Kind, build_attention
from rnnlab.nn.sequence import step_mask
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
        steps, final = self.stack(x, lengths, final_state=False)  # (B, T, K·H); final: for the aux loss only
        H = self.stack.output_size // self.stack.directions
        last = (lengths.to(steps.device) - 1).view(-1, 1, 1).expand(-1, 1, H)  # (B, 1, H)
        forward_last = steps[..., :H].gather(1, last).squeeze(1)  # (B, H)
        parts = [forward_last] + ([steps[:, 0, H:]] if self.stack.bidirectional else [])
        return Encoded(steps, torch.cat(parts, dim=-1), self.aux_loss(final, steps))

    def aux_loss(self, final, steps: Tensor) -> Tensor:
        """The cells' extra training cost (ACT's ponder cost), 0 for plain cells (and for the
        dilated stack, which keeps no single final state)."""
        cost = self.stack.aux_loss(final) if final is not None else None
        return cost if cost is not None else steps.new_zeros(())

    def attention_for(self, query_size: int) -> Attention | None:
        """The attention a decoder of this encoder uses: none, a plain encoder hands over only its summary."""
        return None


class AttentiveEncoder(RecurrentEncoder):
    """The attentional interface: a recurrent encoder whose summary is attention pooling over
    its steps (a learned query), and which lends its kind of attention to a decoder (seq2seq)."""

    def __init__(self, stack: RecurrentStack, kind: Kind, attention_size: int) -> None:
        super().__init__(stack)
        self.kind, self.attention_size = kind, attention_size
        E = stack.output_size
        self.pooling = AttentionPooling(build_attention(kind, E, E, attention_size), E)

    def attention_for(self, query_size: int) -> Attention:
        return build_attention(self.kind, query_size, self.output_size, self.attention_size)

    def forward(self, x: Tensor, lengths: Tensor) -> Encoded:
        steps, final = self.stack(x, lengths, final_state=False)  # (B, T, E)
        mask = step_mask(lengths, steps.shape[1], steps.device)  # (B, T)
        summary, weights = self.pooling(steps, mask)  # (B, E), (B, T)
        return Encoded(steps, summary, self.aux_loss(final, steps), weights)


class StepwiseEncoder(nn.Module):
    """No recurrence — a baseline: each step through the same MLP, h_t = ReLU(W_k … ReLU(W_1 x_t)),
    alone. The summary is the mean over real steps. It shows what one step tells without context
    (DialogueRNN's utterance-only model)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.input_size, self.output_size = input_size, hidden_size
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers += [nn.Linear(input_size if i == 0 else hidden_size, hidden_size), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor, lengths: Tensor) -> Encoded:
        mask = step_mask(lengths, x.shape[1], x.device).unsqueeze(-1)  # (B, T, 1)
        steps = self.mlp(x) * mask  # (B, T, H), zero on padding
        return Encoded(steps, steps.sum(1) / mask.sum(1), steps.new_zeros(()))

    def attention_for(self, query_size: int) -> None:
        return None
