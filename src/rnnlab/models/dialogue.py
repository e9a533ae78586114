"""DialogueRNN (Majumder, Poria, Hazarika, Mihalcea, Gelbukh, Cambria; AAAI 2019, arXiv 1811.00405).

"An attentive RNN for emotion detection in conversations": each party of a dialogue keeps its own
state, so a speaker's mood is remembered across the turns of others. Shapes (the package legend,
:mod:`rnnlab`): B dialogues, T utterances, D utterance features, P parties, X global, Y party and
Z emotion state sizes.
u_t is utterance t's features, s(t) its speaker (a one-hot row of the (B, P) speaker mask).

    g_t       = GRU_G(g_{t−1}, [u_t ; q_{s(t),t−1}])                  global state
    α_t       = softmax_j(u_tᵀ W_α g_j), j < t                        attention over the global history
    c_t       = Σ_{j<t} α_t(j) g_j                                    context (c_1 = 0)
    q_{s,t}   = GRU_P(q_{s,t−1}, [u_t ; c_t])                         the speaker's update
    q_{i,t}   = q_{i,t−1}                              (i ≠ s(t))     a passive listener (the paper's DialogueRNN)
              = GRU_L(q_{i,t−1}, [u_t ; q_{s,t}])                       an active listener (the authors' code)
    e_t       = GRU_E(e_{t−1}, q_{s(t),t})                            emotion state

Bidirectional (BiDialogueRNN): the same equations over each dialogue reversed within its length,
e_t = [e→_t ; e←_t]. The speaker mask is part of every step's input, so reversing a dialogue
reverses its speakers with it (conv-emotion's early BiModel reversed the utterances only).
+Att: ẽ_t = Σ_j β_t(j) e_j, β_t = softmax_j(e_tᵀ W_β e_j) over every real utterance of the
dialogue (not causal). Output l_t = ReLU(W_l ẽ_t + b_l); the task head is the paper's softmax layer.

Stated choices: the GRUs are the core's GRUCell (pytorch convention); the speaker's update runs
on the speaker's state only (conv-emotion runs GRU_P on every party and mixes with the mask: the
same result); the active listener uses the authors' code's input [u_t ; q_{s,t}], not the paper's
visual listener features; the attention is "general" (W_α), the authors' IEMOCAP setting. Padded
utterances carry every state (no party speaks there). The history grows with t, so the loop over
utterances lives here instead of in the one sequence driver, whose cells keep fixed-size states.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.models.output import Encoded
from rnnlab.nn.attention import MultiplicativeAttention
from rnnlab.nn.gru import GRUCell, GRUState
from rnnlab.nn.sequence import carry, reverse_within_length, step_mask

Listener = Literal["passive", "active"]


class DialogueState(NamedTuple):
    g: Tensor  # (B, X) global state g_{t−1}
    q: Tensor  # (B, P, Y) every party's state
    e: Tensor  # (B, Z) emotion state


class DialogueRNNCell(nn.Module):
    """One utterance: (u_t, speaker_t, state, global history) -> (e_t, g_t, state)."""

    def __init__(
        self, utterance_size: int, global_size: int, party_size: int, emotion_size: int, listener: Listener
    ) -> None:
        super().__init__()
        if listener not in ("passive", "active"):
            raise ValueError(f"DialogueRNNCell: listener must be 'passive' or 'active', got {listener!r}")
        D, G, Q, E = utterance_size, global_size, party_size, emotion_size
        self.sizes = (G, Q, E)
        self.global_gru = GRUCell(D + Q, G, "pytorch")  # GRU_G on [u_t ; q_{s,t−1}]
        self.party_gru = GRUCell(D + G, Q, "pytorch")  # GRU_P on [u_t ; c_t]
        self.listener_gru = GRUCell(D + Q, Q, "pytorch") if listener == "active" else None  # GRU_L on [u_t ; q_{s,t}]
        self.emotion_gru = GRUCell(Q, E, "pytorch")  # GRU_E on q_{s,t}
        self.attention = MultiplicativeAttention(D, G, "general")  # u_tᵀ W_α g_j

    def initial_state(self, batch_size: int, parties: int, like: Tensor) -> DialogueState:
        G, Q, E = self.sizes
        return DialogueState(
            like.new_zeros(batch_size, G), like.new_zeros(batch_size, parties, Q), like.new_zeros(batch_size, E)
        )

    def forward(
        self, u: Tensor, speaker: Tensor, state: DialogueState, history: Tensor
    ) -> tuple[Tensor, Tensor, DialogueState]:
        """u (B, D); speaker (B, P) one-hot (zeros: nobody speaks, padded step); history (B, t−1, X) = g_1..g_{t−1}."""
        B, P, Q = state.q.shape
        q_speaker = torch.einsum("bp,bpq->bq", speaker, state.q)  # (B, Y) q_{s,t−1}
        (g,) = self.global_gru(torch.cat([u, q_speaker], -1), GRUState(state.g))[1]  # g_t
        if history.shape[1]:
            everything = history.new_ones(B, history.shape[1], dtype=torch.bool)
            context, _ = self.attention(u, history, everything)  # c_t (B, X)
        else:
            context = u.new_zeros(B, history.shape[-1])  # c_1 = 0: no history yet
        (spoken,) = self.party_gru(torch.cat([u, context], -1), GRUState(q_speaker))[1]  # (B, Y) q_{s,t}
        m = speaker.unsqueeze(-1)  # (B, P, 1)
        if self.listener_gru is None:
            listeners = state.q  # passive: unchanged
        else:
            heard = torch.cat([u, spoken], -1).unsqueeze(1).expand(B, P, -1)  # (B, P, D + Y) [u_t ; q_{s,t}]
            (listeners,) = self.listener_gru(heard.reshape(B * P, -1), GRUState(state.q.reshape(B * P, Q)))[1]
            listeners = listeners.view(B, P, Q)
        q = m * spoken.unsqueeze(1) + (1 - m) * listeners  # (B, P, Y): the speaker's row updated (exactly, m ∈ {0, 1})
        (e,) = self.emotion_gru(spoken, GRUState(state.e))[1]  # e_t
        return e, g, DialogueState(g, q, e)


class DialogueRNN(nn.Module):
    """An encoder of dialogues: x (B, T, D + P) = [utterance features ; speaker one-hot] ->
    per-utterance features l_t (B, T, E) and a summary (l at the last utterance)."""

    def __init__(
        self,
        input_size: int,
        parties: int,
        global_size: int,
        party_size: int,
        emotion_size: int,
        output_size: int,
        listener: Listener = "passive",
        bidirectional: bool = False,
        emotion_attention: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if parties < 1 or input_size <= parties:
            raise ValueError(
                "DialogueRNN: needs a speaker column (parties ≥ 1) and utterance features besides it; got "
                f"{input_size} inputs of which {parties} are the speaker one-hot"
            )
        self.input_size, self.parties, self.bidirectional = input_size, parties, bidirectional
        D = input_size - parties
        make = lambda: DialogueRNNCell(D, global_size, party_size, emotion_size, listener)  # noqa: E731
        self.cells = nn.ModuleList([make(), make()] if bidirectional else [make()])
        E = emotion_size * len(self.cells)
        self.emotion_attention = MultiplicativeAttention(E, E, "general") if emotion_attention else None  # e_tᵀ W_β e_j
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(E, output_size)  # l_t = ReLU(W_l ẽ_t + b_l)
        self.output_size = output_size

    def split(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, T, D + P) -> utterances (B, T, D), speakers (B, T, P); each real step must have one speaker."""
        u, speakers = x[..., : -self.parties], x[..., -self.parties :]
        real = step_mask(lengths, x.shape[1], x.device)  # (B, T)
        one_hot = ((speakers == 0) | (speakers == 1)).all(-1) & (speakers.sum(-1) == 1)
        bad = real & ~one_hot
        if bad.any():
            b, t = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"DialogueRNN: the last {self.parties} inputs must be a speaker one-hot; dialogue {b} of the batch, "
                f"utterance {t} has {speakers[b, t].tolist()}"
            )
        return u, speakers * real.unsqueeze(-1)  # padded steps: nobody speaks

    def run(
        self, cell: DialogueRNNCell, u: Tensor, speakers: Tensor, lengths: Tensor
    ) -> tuple[Tensor, list[DialogueState]]:
        """e_1..e_T (B, T, Z) of one direction, and the state after every utterance."""
        B, T, _ = u.shape
        mask = step_mask(lengths, T, u.device)  # (B, T)
        state = cell.initial_state(B, self.parties, u)
        history, emotions, states = [], [], []
        for t in range(T):
            g_history = torch.stack(history, 1) if history else u.new_zeros(B, 0, cell.sizes[0])  # (B, t, X)
            e, g, new = cell(u[:, t], speakers[:, t], state, g_history)
            state = carry(mask[:, t], new, state)
            history.append(state.g)
            emotions.append(e * mask[:, t, None])
            states.append(state)
        return torch.stack(emotions, 1), states

    def forward(self, x: Tensor, lengths: Tensor) -> Encoded:
        lengths = lengths.to(x.device)
        u, speakers = self.split(x, lengths)
        e, _ = self.run(self.cells[0], u, speakers, lengths)  # (B, T, Z)
        if self.bidirectional:  # utterances and speakers reversed together
            back, _ = self.run(
                self.cells[1], reverse_within_length(u, lengths), reverse_within_length(speakers, lengths), lengths
            )
            e = torch.cat([e, reverse_within_length(back, lengths)], -1)  # (B, T, 2Z)
        mask = step_mask(lengths, x.shape[1], x.device)  # (B, T)
        if self.emotion_attention is not None:  # ẽ_t: every utterance attends over the whole dialogue
            B, T, E = e.shape
            keys = e.repeat_interleave(T, 0)  # (B·T, T, K·Z)
            attended, _ = self.emotion_attention(e.reshape(B * T, E), keys, mask.repeat_interleave(T, 0))
            e = attended.view(B, T, E)
        steps = torch.relu(self.output(self.dropout(e))) * mask.unsqueeze(-1)  # (B, T, E) l_t, zero on padding
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, steps.shape[-1])
        return Encoded(steps, steps.gather(1, last).squeeze(1), steps.new_zeros(()))
