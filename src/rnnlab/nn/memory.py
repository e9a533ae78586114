"""Neural Turing Machine memory access (Graves, Wayne, Danihelka 2014, §3): read, write, addressing.

"Memory is an array of vectors … we read and write everywhere, just to different extents": every
access is a weighting w over the I rows (w ≥ 0, Σ_i w(i) = 1). Shapes (the package legend, :mod:`rnnlab`):
B batch, I rows, M width, F heads of one kind; 2·shift_range + 1 allowed shifts; a weighting is (B, I), a
memory (B, I, M). The F heads of a kind are addressed at once: a heads dimension after the batch, (B, F, I)
weightings and (B, F, ·) head parameters, over the one (B, I, M) memory.

Addressing, in the course's order (each step a function below):

    1. content        w^c(i) = softmax_i(β · K(k, M(i))),  K = cosine similarity, β ≥ 0
    2. interpolation  w^g = g · w^c + (1 − g) · w_{t−1},    g ∈ (0, 1)
    3. shift          w̃(i) = Σ_j w^g(j) · s(i − j)  (indices mod I), s a distribution over shifts
    4. sharpening     w(i) = w̃(i)^γ / Σ_j w̃(j)^γ,           γ ≥ 1

Read: r = Σ_i w(i) M(i). Write, erase then add: M(i) ← M(i) ⊙ (1 − w(i) e) + w(i) a.
Everything is batched tensor algebra: no Python loop over the batch or the rows (the shift loops
over the allowed shifts only, each a ``torch.roll`` of the whole batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Cosine similarity of a zero vector is 0/0: norms are floored at this (the memory starts at a
# small constant, so a row is never exactly zero in practice; a key can be).
COSINE_EPS = 1e-8
# w̃^γ at w̃ = 0 has an infinite derivative in γ (log 0): w̃ is floored at this before the power.
SHARPEN_EPS = 1e-12


def content_weights(key: Tensor, strength: Tensor, memory: Tensor) -> Tensor:
    """Step 1: w^c = softmax(β · cosine(k, M(i))) over rows. key (B, M), strength β (B, 1), memory (B, I, M) -> (B, I);
    or F heads: key (B, F, M), strength (B, F, 1) -> (B, F, I)."""
    B, N, _ = memory.shape
    dot = (key.view(B, -1, key.shape[-1]) @ memory.transpose(1, 2)).view(*key.shape[:-1], N)  # (B, [F,] I) k · M(i)
    row_norms = memory.norm(dim=-1).view(B, *[1] * (key.dim() - 2), N)  # (B, [1,] I) ‖M(i)‖, once for every head
    norms = key.norm(dim=-1, keepdim=True) * row_norms  # (B, [F,] I) ‖k‖ ‖M(i)‖
    similarity = dot / norms.clamp_min(COSINE_EPS)  # K(k, M(i)) ∈ [−1, 1]
    return torch.softmax(strength * similarity, dim=-1)


def interpolate(content: Tensor, previous: Tensor, gate: Tensor) -> Tensor:
    """Step 2: w^g = g · w^c + (1 − g) · w_{t−1}. content, previous (B, I); gate g (B, 1)."""
    return gate * content + (1 - gate) * previous


def shift(weights: Tensor, shifts: Tensor) -> Tensor:
    """Step 3, circular convolution: w̃(i) = Σ_k s(k) · w(i − k) for |k| ≤ shift_range.

    weights (B, [F,] I); shifts (B, [F,] 2·shift_range + 1), a distribution over the shifts
    −shift_range..shift_range in that order.
    ``torch.roll(w, k)[i] = w[i − k]``: shift +1 moves the focus one row down.
    """
    reach = (shifts.shape[-1] - 1) // 2
    terms = [
        shifts[..., j : j + 1] * torch.roll(weights, k, dims=-1) for j, k in enumerate(range(-reach, reach + 1))
    ]  # s(k) · w(i − k)
    return sum(terms[1:], terms[0])  # one element-wise term per allowed shift (no (…, I, shifts) tensor to gather from)


def sharpen(weights: Tensor, gamma: Tensor) -> Tensor:
    """Step 4: w(i) = w̃(i)^γ / Σ_j w̃(j)^γ. weights (B, I); gamma γ ≥ 1 (B, 1).

    w̃^γ is computed as exp(γ log w̃): the same function, and a compiled step makes it vectorised
    exp and log instead of a scalar ``pow`` per row.
    """
    powered = torch.exp(gamma * torch.log(weights.clamp_min(SHARPEN_EPS)))
    return powered / powered.sum(dim=-1, keepdim=True)


def address(
    memory: Tensor, previous: Tensor, key: Tensor, strength: Tensor, gate: Tensor, shifts: Tensor, gamma: Tensor
) -> Tensor:
    """The four steps in order: content, interpolation, shift, sharpening -> w_t (B, I), or (B, F, I) for F heads."""
    w = content_weights(key, strength, memory)
    w = interpolate(w, previous, gate)
    w = shift(w, shifts)
    return sharpen(w, gamma)


def read(memory: Tensor, weights: Tensor) -> Tensor:
    """r = Σ_i w(i) M(i). memory (B, I, M), weights (B, I) -> (B, M), or F heads (B, F, I) -> (B, F, M)."""
    return (weights.view(weights.shape[0], -1, weights.shape[-1]) @ memory).view(*weights.shape[:-1], memory.shape[-1])


def write(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Erase then add: M ← M ⊙ (1 − w eᵀ) + w aᵀ. memory (B, I, M), weights (B, I), erase e ∈ (0,1) and add a (B, M).

    F write heads — weights (B, F, I), erase and add (B, F, M) — erase all, then add all:
    M ← M ⊙ Π_j (1 − w_j e_jᵀ) + Σ_j w_j a_jᵀ.
    """
    if weights.dim() == 2:
        weights, erase, add = weights.unsqueeze(1), erase.unsqueeze(1), add.unsqueeze(1)  # one head: F = 1
    if weights.shape[1] == 1:  # one head: M ⊙ (1 − w eᵀ) + w aᵀ, the outer products as broadcasts
        w = weights.transpose(1, 2)  # (B, I, 1)
        return memory * (1 - w * erase) + w * add
    kept = (1 - weights.unsqueeze(-1) * erase.unsqueeze(2)).prod(dim=1)  # (B, I, M) Π_j (1 − w_j(i) e_j)
    return memory * kept + weights.transpose(1, 2) @ add  # M̃ + Σ_j w_j(i) a_j: (B, I, F) @ (B, F, M)


def head_activations(raw: Tensor, width: int, shift_count: int) -> dict[str, Tensor]:
    """A head's raw controller outputs (B, M + 4 + 2·shift_range) -> k, β = softplus, g = σ, s = softmax,
    γ = 1 + softplus."""
    key, strength, gate, shifts, gamma = raw.split([width, 1, 1, shift_count, 1], dim=-1)
    return {
        "key": key,  # k: unconstrained, compared by angle
        "strength": F.softplus(strength),  # β ≥ 0
        "gate": torch.sigmoid(gate),  # g ∈ (0, 1)
        "shifts": torch.softmax(shifts, dim=-1),  # s: a distribution over −shift_range..shift_range
        "gamma": 1 + F.softplus(gamma),  # γ ≥ 1
    }
