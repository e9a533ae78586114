"""Symbol inputs: token ids -> learned vectors, in front of any encoder."""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.data.symbols import PAD_ID
from rnnlab.models.output import Encoded


class TokenInput(nn.Module):
    """x (B, T) int64 -> embedding (B, T, D) -> the wrapped encoder (D = embedding_size)."""

    def __init__(self, vocab_size: int, embedding_size: int, encoder: nn.Module) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.encoder = encoder

    @property
    def output_size(self) -> int:
        return self.encoder.output_size

    @property
    def stack(self):  # the recurrent stack, for reports (backend)
        return getattr(self.encoder, "stack", None)

    def attention_for(self, query_size: int):
        return self.encoder.attention_for(query_size)

    def forward(self, x: Tensor, lengths: Tensor) -> Encoded:
        return self.encoder(self.embedding(x), lengths)  # (B, T) -> (B, T, D)
