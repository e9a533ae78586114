"""Attentional interface (Bahdanau et al. 2015; Luong et al. 2015): a query reads a weighted
average of a sequence's per-step vectors (the keys h_j), padding masked.

    additive        (Bahdanau; OpenNMT's "mlp")   e_j = v_aᵀ tanh(W_a q + U_a h_j)
    general         (Luong, multiplicative)       e_j = qᵀ W_a h_j
    dot             (Luong)                       e_j = qᵀ h_j
    α_j = softmax_j(e_j) over the real steps only;   c = Σ_j α_j h_j

Padding: the scores of padded steps are set to −∞ before the softmax, so their weight is exactly 0
and appending more padding changes nothing (the common bug of tutorial code is to skip the mask
and leak weight onto PAD). Shapes (the package legend, :mod:`rnnlab`): B batch, T key steps, Q query size,
E key size (keys are an encoder's steps), A attention size.

Which decoder state queries: Bahdanau's decoder attends with s_{i-1} (before its update) and feeds
the context into the update; Luong's attends with the new state s_i and feeds h̃_{i-1} to the next
step. Each scorer carries its paper's choice in ``queries_previous_state``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

Kind = Literal["additive", "general", "dot"]


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """softmax over the last dim with masked-out entries at exactly 0. scores, mask: (B, T)."""
    return scores.masked_fill(~mask, float("-inf")).softmax(-1)


class Attention(nn.Module):
    """forward(query (B, Q), keys (B, T, E), mask (B, T)) -> (context (B, E), weights (B, T)).

    ``prepare(keys)`` computes the query-free part of the score once per sequence (U_a h_j for
    additive attention); a decoder passes its result as ``prepared`` at every step.
    """

    queries_previous_state: ClassVar[bool]

    def prepare(self, keys: Tensor) -> Tensor:
        return keys

    def score(self, query: Tensor, keys: Tensor, prepared: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, prepared: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        prepared = self.prepare(keys) if prepared is None else prepared
        weights = masked_softmax(self.score(query, keys, prepared), mask)  # α (B, T)
        context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # c = Σ_j α_j h_j  (B, E)
        return context, weights


class AdditiveAttention(Attention):
    """e_j = v_aᵀ tanh(W_a q + U_a h_j)   (Bahdanau et al. 2015, eq. 6 of appendix A.1.2)."""

    queries_previous_state = True

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.query_kernel = nn.Linear(query_size, attention_size, bias=False)  # W_a (A, Q)
        self.key_kernel = nn.Linear(key_size, attention_size)  # U_a (A, E) and a bias
        self.v = nn.Linear(attention_size, 1, bias=False)  # v_a (A,)

    def prepare(self, keys: Tensor) -> Tensor:
        return self.key_kernel(keys)  # U_a h_j  (B, T, A)

    def score(self, query: Tensor, keys: Tensor, prepared: Tensor) -> Tensor:
        return self.v(torch.tanh(self.query_kernel(query).unsqueeze(1) + prepared)).squeeze(-1)  # (B, T)


class MultiplicativeAttention(Attention):
    """e_j = qᵀ W_a h_j ("general") or qᵀ h_j ("dot", Q = E)   (Luong et al. 2015, eq. 8)."""

    queries_previous_state = False

    def __init__(self, query_size: int, key_size: int, form: Literal["general", "dot"]) -> None:
        super().__init__()
        if form == "dot" and query_size != key_size:
            raise ValueError(
                f"dot attention needs the query size ({query_size}) to equal the key size ({key_size}); use 'general'"
            )
        self.form = form
        self.kernel = nn.Linear(key_size, query_size, bias=False) if form == "general" else None  # W_a (Q, E)

    def prepare(self, keys: Tensor) -> Tensor:
        return self.kernel(keys) if self.kernel is not None else keys  # W_a h_j  (B, T, Q)

    def score(self, query: Tensor, keys: Tensor, prepared: Tensor) -> Tensor:
        return torch.bmm(prepared, query.unsqueeze(-1)).squeeze(-1)  # qᵀ W_a h_j  (B, T)


def build_attention(kind: Kind, query_size: int, key_size: int, attention_size: int) -> Attention:
    if kind == "additive":
        return AdditiveAttention(query_size, key_size, attention_size)
    if kind in ("general", "dot"):
        return MultiplicativeAttention(query_size, key_size, kind)
    raise ValueError(f"unknown attention {kind!r}; expected additive, general or dot")


class AttentionPooling(nn.Module):
    """A sequence's summary as c = Σ_j α_j h_j, queried by one learned vector q (the attention
    pooling of a classification head): (B, T, E), mask (B, T) -> (B, E), weights (B, T)."""

    def __init__(self, attention: Attention, query_size: int) -> None:
        super().__init__()
        self.attention = attention
        self.query = nn.Parameter(torch.randn(query_size) / query_size**0.5)  # q (Q,), unit scale at init

    def forward(self, steps: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        query = self.query.expand(steps.shape[0], -1)  # (B, Q)
        return self.attention(query, steps, mask)
