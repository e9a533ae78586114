"""An n-gram language model over integer token ids with interpolated Kneser–Ney smoothing.

Kneser–Ney rather than Witten–Bell: it is the stronger of the two on character and word text, and
its lower-order distributions count how many distinct tokens *precede* an n-gram (continuation
counts), which is what a lower order is asked about once it is only consulted as a back-off.
One absolute discount D is used at every level (interpolated KN, not the three-discount
"modified" KN of Chen & Goodman).

For a token w after the context h = x_{t-m+1..t-1} (length m − 1), with h⁻ = h minus its first
(oldest) token, the probability is built bottom-up:

    p_0(w)     = 1 / V                                     (uniform: every id in the vocabulary)
    p_k(w | h) = [max(a_k(h w) − D, 0) + D · n_k(h) · p_{k−1}(w | h⁻)] / A_k(h)        k = 1..m
    p_k(w | h) = p_{k−1}(w | h⁻)                           when A_k(h) = 0 (h unseen at level k)

where A_k(h) = Σ_w a_k(h w) and n_k(h) = #{w : a_k(h w) > 0}. The counts a_k are

    a_m(h w) = c(h w)          raw count, at the top level m
    a_k(h w) = N1+(• h w)      continuation count (distinct left neighbours), at levels k < m

The top level is m = min(order, t + 1): a position with fewer than order − 1 tokens before it in its
sequence uses the whole (truncated) context, and that shorter context is then the top level with
raw counts (an order-(t+1) Kneser–Ney model), since nothing reaches it by back-off.

Each level sums to 1 over the vocabulary: with 0 < D ≤ 1 every seen entry loses exactly D, so the
discounted mass is D · n_k(h) / A_k(h), and that is exactly the weight given to p_{k−1}, itself a
distribution. Tokens never seen in training keep the uniform floor's share, so no probability is 0.

Counts live in sorted int64 arrays, one per level: the k-gram (h, w) has the key id(h) · V + w,
where id(h) is h's index among the sorted (k−1)-gram keys, so keys stay below (#tokens) · V
whatever the order. Fitting and scoring are vectorised over positions (np.unique, searchsorted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ABSENT = -1  # id or key of a gram that is not in the training counts (or does not fit in its sequence)


@dataclass(frozen=True)
class _Level:
    """The k-grams of one level and the per-context sums the recursion divides by.

    ``keys``: sorted unique keys id(h) · V + w; ``raw``/``cont``: c(h w) and N1+(• h w) per key;
    ``*_total``/``*_types``: A_k(h) and n_k(h) per context id h.
    """

    keys: np.ndarray
    raw: np.ndarray
    cont: np.ndarray
    raw_total: np.ndarray
    raw_types: np.ndarray
    cont_total: np.ndarray
    cont_types: np.ndarray


@dataclass(frozen=True)
class _Stream:
    """Sequences laid end to end: ``tokens[i]`` sits at ``offsets[i]`` within its own sequence."""

    tokens: np.ndarray
    offsets: np.ndarray


class NGramLM:
    """Interpolated Kneser–Ney n-gram model; see the module docstring for the equations."""

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if order < 1 or int(order) != order:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        if vocab_size < 1 or int(vocab_size) != vocab_size:
            raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"discount must lie in (0, 1] so that each level sums to 1, got {discount!r}")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.discount = float(discount)
        self._levels: list[_Level] = []

    # --- fitting ------------------------------------------------------------------------------

    def fit(self, sequences: Sequence[np.ndarray]) -> NGramLM:
        """Count the k-grams (k = 1..order) inside each sequence; none spans two sequences."""
        stream = self._stream(sequences)
        if len(stream.tokens) == 0:
            raise ValueError("fit needs at least one token")
        counted, continuation = [], []
        ids, n_contexts = None, 1
        for k in range(1, self.order + 1):
            keys, raw, longer_ids = self._count_level(stream, k, ids)
            if ids is not None:
                suffix_of = _suffix_map(longer_ids, ids, len(keys))
                continuation.append(np.bincount(suffix_of, minlength=len(counted[-1][0])))
            counted.append((keys, raw, n_contexts))
            ids, n_contexts = longer_ids, len(keys)
        # The top level is only ever read with raw counts: no position backs off into it.
        continuation.append(np.zeros(n_contexts, dtype=np.int64))
        self._levels = [
            _level(keys, raw, cont, n_ctx, self.vocab_size) for (keys, raw, n_ctx), cont in zip(counted, continuation)
        ]
        return self

    def _count_level(self, stream: _Stream, k: int, shorter_ids: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Unique k-gram keys, their raw counts, and the id of the k-gram ending at each position."""
        valid = stream.offsets >= k - 1
        all_keys = _keys(stream.tokens, _context(shorter_ids), self.vocab_size, valid)
        keys, inverse, raw = np.unique(all_keys[valid], return_inverse=True, return_counts=True)
        ids = np.full(len(stream.tokens), ABSENT, dtype=np.int64)
        ids[valid] = inverse
        return keys, raw, ids

    # --- scoring ------------------------------------------------------------------------------

    def log2_prob(self, context: Sequence[int], token: int) -> float:
        """log2 p(token | the last order − 1 tokens of context); a shorter context is used whole."""
        return float(self._log2_last(np.asarray([token]), context)[0])

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """p(w | context) for every w in 0..V−1 (sums to 1)."""
        return np.exp2(self._log2_last(np.arange(self.vocab_size), context))

    def bits_per_token(self, sequences: Sequence[np.ndarray]) -> float:
        """Mean of −log2 p(x_t | x_{max(0, t−order+1)..t−1}) over t = 1..T−1 of every sequence."""
        stream = self._stream(sequences)
        predicted = stream.offsets >= 1
        if not predicted.any():
            raise ValueError("no position to score: every sequence is shorter than 2 tokens")
        return float(-np.mean(self._log2_stream(stream)[predicted]))

    def _log2_last(self, tokens: np.ndarray, context: Sequence[int]) -> np.ndarray:
        """log2 p(w | context) for each w in ``tokens``, scored as the last step of ctx + [w]."""
        kept = list(context)[max(0, len(context) - self.order + 1) :]
        sequences = [np.asarray(kept + [int(w)], dtype=np.int64) for w in tokens]
        stream = self._stream(sequences)
        return self._log2_stream(stream)[stream.offsets == len(kept)]

    def _log2_stream(self, stream: _Stream) -> np.ndarray:
        """log2 p_m(x_t | context) at every position, levels applied from 1 up to each one's top m."""
        if not self._levels:
            raise RuntimeError("the model is not fitted: call fit first")
        top = np.minimum(stream.offsets, self.order - 1) + 1
        prob = np.full(len(stream.tokens), 1.0 / self.vocab_size)
        ids = None
        for k, level in enumerate(self._levels, start=1):
            active = stream.offsets >= k - 1
            context = _context(ids)
            ids = _lookup(level.keys, _keys(stream.tokens, context, self.vocab_size, active))
            context_stats = np.zeros_like(stream.tokens) if context is None else context
            prob = np.where(active, self._interpolate(level, context_stats, ids, top == k, prob), prob)
        return np.log2(prob)

    def _interpolate(self, level: _Level, context, gram_ids, at_top, lower) -> np.ndarray:
        """p_k = [max(a − D, 0) + D · n · p_{k−1}] / A, or p_{k−1} where A = 0 (unseen context)."""
        if len(level.keys) == 0:
            return lower
        seen_context = context != ABSENT
        h = np.where(seen_context, context, 0)
        g = np.where(gram_ids != ABSENT, gram_ids, 0)
        total = np.where(seen_context, np.where(at_top, level.raw_total[h], level.cont_total[h]), 0)
        types = np.where(at_top, level.raw_types[h], level.cont_types[h])
        count = np.where(gram_ids != ABSENT, np.where(at_top, level.raw[g], level.cont[g]), 0)
        discounted = np.maximum(count - self.discount, 0.0) + self.discount * types * lower
        # A ≥ 1 wherever it is used; the floor of 1 only keeps the unused A = 0 branch finite.
        return np.where(total > 0, discounted / np.maximum(total, 1), lower)

    # --- input --------------------------------------------------------------------------------

    def _stream(self, sequences: Sequence[np.ndarray]) -> _Stream:
        arrays = [np.asarray(s).reshape(-1) for s in sequences]
        for a in arrays:
            if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= self.vocab_size):
                raise ValueError(
                    f"tokens must be integer ids in [0, {self.vocab_size}), got {a.dtype} {a.min()}..{a.max()}"
                )
        if not arrays:
            return _Stream(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        tokens = np.concatenate(arrays).astype(np.int64)
        offsets = np.concatenate([np.arange(len(a), dtype=np.int64) for a in arrays])
        return _Stream(tokens, offsets)


def _context(shorter_ids: np.ndarray | None) -> np.ndarray | None:
    """Id of the context h of the k-gram ending at each t: the (k−1)-gram ending at t − 1.

    The empty context of level 1 has id 0; ``shorter_ids`` is None there.
    """
    if shorter_ids is None:
        return None
    context = np.empty_like(shorter_ids)
    context[0] = ABSENT
    context[1:] = shorter_ids[:-1]
    return context


def _keys(tokens: np.ndarray, context: np.ndarray | None, vocab_size: int, valid: np.ndarray) -> np.ndarray:
    """Key id(h) · V + w of the k-gram ending at each position; ABSENT where invalid or h unseen."""
    if context is None:
        return np.where(valid, tokens, ABSENT)
    ok = valid & (context != ABSENT)
    return np.where(ok, context * vocab_size + tokens, ABSENT)


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in ``sorted_keys``, or ABSENT."""
    if len(sorted_keys) == 0:
        return np.full_like(keys, ABSENT)
    index = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = (keys != ABSENT) & (sorted_keys[index] == keys)
    return np.where(found, index, ABSENT)


def _suffix_map(ids_k: np.ndarray, ids_shorter: np.ndarray, n_grams_k: int) -> np.ndarray:
    """For each unique k-gram, the id of its (k−1)-gram suffix (both end at the same position)."""
    valid = ids_k != ABSENT
    suffix_of = np.empty(n_grams_k, dtype=np.int64)
    suffix_of[ids_k[valid]] = ids_shorter[valid]
    return suffix_of


def _level(keys: np.ndarray, raw: np.ndarray, cont: np.ndarray, n_contexts: int, vocab_size: int) -> _Level:
    """Per-context sums A_k(h) and n_k(h) for the raw and the continuation counts."""
    context = keys // vocab_size

    def per_context(weights: np.ndarray) -> np.ndarray:
        return np.bincount(context, weights=weights, minlength=n_contexts)

    return _Level(
        keys=keys,
        raw=raw,
        cont=cont,
        raw_total=per_context(raw),
        raw_types=per_context(np.ones_like(raw, dtype=np.float64)),
        cont_total=per_context(cont),
        cont_types=per_context((cont > 0).astype(np.float64)),
    )
