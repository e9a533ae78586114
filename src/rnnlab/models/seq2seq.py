"""Encoder–decoder: a sequence in, another sequence (of its own length) out.

The encoder is any architecture of the registry; the decoder is a GRU cell of the core whose
size is the encoder's output size E. What the decoder reads of the source depends on the encoder:

    no attention (a plain encoder; Cho et al. 2014's RNN encoder–decoder)
        c_i = summary                                          the one fixed vector
        s_i = GRU([E y_{i-1}; c_i], s_{i-1})
    attention that queries the previous state (additive: Bahdanau et al. 2015)
        c_i, α_i = attend(s_{i-1}, h_1..T)
        s_i = GRU([E y_{i-1}; c_i], s_{i-1})
    attention that queries the new state (general, dot: Luong et al. 2015, with input feeding)
        s_i = GRU([E y_{i-1}; h̃_{i-1}], s_{i-1})
        c_i, α_i = attend(s_i, h_1..T)
    then, in every case,  h̃_i = tanh(W_c [c_i; s_i]),  p(y_i) = softmax(W_s h̃_i)

with s_0 = tanh(W_0 summary): the encoder's summary — [→h_T; ←h_1] for a plain bidirectional
encoder (Bahdanau starts from ←h_1), the attention-pooled vector for the attention encoder.
Deviation, stated: Bahdanau's maxout
readout g(y_{i-1}, s_i, c_i) is replaced by Luong's h̃_i for every variant, so the three differ
only in their attention.

Training: teacher forcing — the target (B, L) with an end token and IGNORE padding is offered by
the training module; the decoder reads <s>, y_1, …, y_{L-1}. Without a target (validation metrics,
test, serving) it decodes greedily until every sequence has written </s>. A sequence of source
length T writes at most ⌈ratio · T⌉ + 1 symbols, the last one </s> if it has not ended before —
its own cap, so its output never depends on its batch mates. ratio is the largest
(target length + 1) / source length of the training split (meta ``max_output_ratio``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.data.symbols import END_ID, PAD_ID, START_ID
from rnnlab.models.output import ModelOutput
from rnnlab.nn.gru import GRUCell, GRUState
from rnnlab.nn.sequence import step_mask


class Seq2Seq(nn.Module):
    """(B, T) or (B, T, D) source, lengths -> logits (B, L, V) over the target vocabulary, and the
    alignments α (B, L, T) when the encoder lends attention."""

    def __init__(
        self, encoder: nn.Module, target_vocabulary_size: int, embedding_size: int, max_output_ratio: float
    ) -> None:
        super().__init__()
        E = encoder.output_size
        self.encoder = encoder
        self.attention = encoder.attention_for(E)  # None: a plain encoder–decoder
        self.max_output_ratio = max_output_ratio
        self.embedding = nn.Embedding(target_vocabulary_size, embedding_size, padding_idx=PAD_ID)  # E y (V, ·)
        self.bridge = nn.Linear(E, E)  # W_0: s_0 = tanh(W_0 summary)
        self.cell = GRUCell(embedding_size + E, E, "pytorch")  # input [E y_{i-1}; c_i or h̃_{i-1}]
        self.combine = nn.Linear(2 * E, E)  # W_c: h̃_i = tanh(W_c [c_i; s_i])
        self.output = nn.Linear(E, target_vocabulary_size)  # W_s

    def forward(self, x: Tensor, lengths: Tensor, target: Tensor | None = None) -> ModelOutput:
        encoded = self.encoder(x, lengths)
        keys = encoded.steps  # h_j (B, T, E)
        mask = step_mask(lengths, keys.shape[1], keys.device)  # (B, T)
        prepared = self.attention.prepare(keys) if self.attention is not None else None
        state = GRUState(torch.tanh(self.bridge(encoded.summary)))  # s_0 (B, E)
        fed = keys.new_zeros(keys.shape[0], keys.shape[-1])  # h̃_0 (B, E)
        B = keys.shape[0]
        if target is not None:  # teacher forcing: <s>, y_1, …, y_{L-1}
            previous = torch.cat(
                [target.new_full((B, 1), START_ID), target[:, :-1].clamp(min=PAD_ID)], 1
            )  # IGNORE -> PAD
            steps = target.shape[1]
        else:
            previous = target
            cap = (
                torch.ceil(self.max_output_ratio * lengths.to(keys.device).double()).long() + 1
            )  # (B,) symbols each may write
            steps = int(cap.max())
        y_prev = torch.full((B,), START_ID, dtype=torch.int64, device=keys.device)
        finished = torch.zeros(B, dtype=torch.bool, device=keys.device)
        logits, alignments = [], []
        for i in range(steps):
            y_in = previous[:, i] if previous is not None else y_prev
            state, fed, weights, step_logits = self.step(
                self.embedding(y_in), state, fed, encoded.summary, keys, prepared, mask
            )
            if previous is None:  # greedy: a sequence at its cap writes </s>
                step_logits = torch.where((i == cap - 1)[:, None], self._end_only(step_logits), step_logits)
            logits.append(step_logits)
            alignments.append(weights)
            if previous is None:  # greedy: the most likely token is the next input
                y_prev = step_logits.argmax(-1)
                finished = finished | (y_prev == END_ID)
                if bool(finished.all()):
                    break
        attention = torch.stack(alignments, 1) if self.attention is not None else None  # (B, L, T)
        return ModelOutput(torch.stack(logits, 1), encoded.aux_loss, attention)  # (B, L, V)

    @staticmethod
    def _end_only(logits: Tensor) -> Tensor:
        """Logits that choose </s>: −∞ everywhere else."""
        forced = torch.full_like(logits, float("-inf"))
        forced[:, END_ID] = 0.0
        return forced

    def step(self, embedded, state, fed, summary, keys, prepared, mask):
        """One decoder step -> (s_i, h̃_i, α_i or None, logits (B, V))."""
        weights = None
        if self.attention is None:
            context = summary  # c_i = the summary, at every step
            state = self.cell(torch.cat([embedded, context], -1), state)[1]
        elif self.attention.queries_previous_state:  # Bahdanau: attend with s_{i-1}, feed c_i
            context, weights = self.attention(state.h, keys, mask, prepared)
            state = self.cell(torch.cat([embedded, context], -1), state)[1]
        else:  # Luong: update with h̃_{i-1} fed in, attend with s_i
            state = self.cell(torch.cat([embedded, fed], -1), state)[1]
            context, weights = self.attention(state.h, keys, mask, prepared)
        combined = torch.tanh(self.combine(torch.cat([context, state.h], -1)))  # h̃_i (B, E)
        return state, combined, weights, self.output(combined)
