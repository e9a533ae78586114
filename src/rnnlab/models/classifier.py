"""Sequence classification head: o = c + V·summary (the lecture's output layer), logits over C classes."""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.models.output import ModelOutput


class SequenceClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, num_classes)  # V (C, E), c (C,)

    def forward(self, x: Tensor, lengths: Tensor) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(encoded.summary), encoded.aux_loss)  # (B, C)
