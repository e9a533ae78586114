"""Task heads: an encoder's per-step features or per-sequence summary -> the task's prediction.

Every head is the lecture's output layer o = c + V·h applied to what the task needs:
the summary for one answer per sequence, every step's features for one answer per step.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.models.output import ModelOutput


class SequenceClassifier(nn.Module):
    """Logits over C classes from the summary: (B, C)."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, num_classes)  # V (C, E), c (C,)

    def forward(self, x: Tensor, lengths: Tensor) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(encoded.summary), encoded.aux_loss)  # (B, C)


class StepClassifier(nn.Module):
    """Logits over C classes at every step: (B, T, C). Sequence labelling, and language modelling
    with C = the vocabulary (step t's logits score the token at t + 1)."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, num_classes)  # V (C, E), c (C,)

    def forward(self, x: Tensor, lengths: Tensor) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(encoded.steps), encoded.aux_loss)  # (B, T, C); padded steps are ignored by the loss


class Forecaster(nn.Module):
    """The next value of the (normalized) target from the summary of the window before it: (B,)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, 1)  # V (1, E), c (1,)

    def forward(self, x: Tensor, lengths: Tensor) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(encoded.summary).squeeze(-1), encoded.aux_loss)  # (B,)
