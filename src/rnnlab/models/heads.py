"""Task heads: an encoder's per-step features or per-sequence summary -> the task's prediction.

Every head is the lecture's output layer o = c + V·h applied to what the task needs:
the summary for one answer per sequence, every step's features for one answer per step.
Every model is called ``model(x, lengths, target=None)``: the training module offers the target
for teacher forcing, and only a decoder (models.seq2seq) reads it.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.models.output import Encoded, ModelOutput


class SequenceClassifier(nn.Module):
    """Logits over C classes from the summary: (B, C)."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, num_classes)  # V (C, E), c (C,)

    def read(self, encoded: Encoded) -> Tensor:
        return encoded.summary  # (B, E)

    def forward(self, x: Tensor, lengths: Tensor, target: Tensor | None = None) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(self.read(encoded)), encoded.aux_loss, encoded.attention)


class StepClassifier(SequenceClassifier):
    """Logits over C classes at every step: (B, T, C). Sequence labelling, and language modelling
    with C = the vocabulary (step t's logits score the token at t + 1). Padded steps are ignored
    by the loss."""

    def read(self, encoded: Encoded) -> Tensor:
        return encoded.steps  # (B, T, E)


class Regressor(nn.Module):
    """One number per sequence from its summary: (B,). The (normalized) target of a regression, or
    a forecast's next value read from the window before it."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        # An encoder whose summary already is the answer (the Neural Programmer's, standardized) is read as it is.
        self.output = (
            nn.Identity() if getattr(encoder, "summary_is_answer", False) else nn.Linear(encoder.output_size, 1)
        )  # V (1, E), c (1,)

    def forward(self, x: Tensor, lengths: Tensor, target: Tensor | None = None) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        return ModelOutput(self.output(encoded.summary).squeeze(-1), encoded.aux_loss, encoded.attention)  # (B,)
