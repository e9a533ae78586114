"""The attentional interface: masking, hand-worked scores, gradcheck, and the encoder–decoder.

Trusted outside the code: hand-computed scores of each form, torch's gradcheck, and invariances
that hold by definition (padding never read, weights a distribution).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnlab.data.symbols import END_ID, IGNORE
from rnnlab.evaluate import build_model
from rnnlab.kinds.seq2seq import decoded, edit_distance, sequence_metrics
from rnnlab.nn.attention import AdditiveAttention, MultiplicativeAttention, build_attention, masked_softmax
from rnnlab.nn.sequence import step_mask
from rnnlab.tasks import TASKS
from tests.conftest import make_meta
from tests.test_contract import settings_for

KINDS = ("additive", "general", "dot")


def keys_and_mask(B=3, T=6, K=4, lengths=(6, 2, 4)):
    keys = torch.randn(B, T, K, dtype=torch.float64)
    mask = step_mask(torch.tensor(lengths), T, keys.device)
    return keys, mask


@pytest.mark.parametrize("kind", KINDS)
def test_padded_positions_get_exactly_zero_weight_and_weights_sum_to_one(kind):
    attention = build_attention(kind, 4, 4, 5).double()
    keys, mask = keys_and_mask()
    keys[~mask] = 1e3  # loud padding: must not matter
    context, weights = attention(torch.randn(3, 4, dtype=torch.float64), keys, mask)
    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.all(context.abs() < 1e2), "no padded key leaks into the context"


@pytest.mark.parametrize("kind", KINDS)
def test_appending_padding_changes_nothing(kind):
    attention = build_attention(kind, 4, 4, 5).double()
    keys, mask = keys_and_mask()
    query = torch.randn(3, 4, dtype=torch.float64)
    longer_keys = torch.cat([keys, torch.randn(3, 3, 4, dtype=torch.float64)], 1)
    longer_mask = torch.cat([mask, torch.zeros(3, 3, dtype=torch.bool)], 1)
    context, weights = attention(query, keys, mask)
    context2, weights2 = attention(query, longer_keys, longer_mask)
    torch.testing.assert_close(context2, context, atol=1e-12, rtol=0)
    torch.testing.assert_close(weights2[:, :6], weights, atol=1e-12, rtol=0)


def test_scores_match_the_papers_formulas_by_hand():
    q = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    h = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)  # (1, 3, 2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    dot = MultiplicativeAttention(2, 2, "dot").double()
    _, weights = dot(q, h, mask)
    scores = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)  # qᵀ h_j
    torch.testing.assert_close(weights[0], scores.softmax(0))
    general = MultiplicativeAttention(2, 2, "general").double()
    with torch.no_grad():
        general.kernel.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, -1.0]]))  # W_a
    _, weights = general(q, h, mask)
    torch.testing.assert_close(weights[0], torch.tensor([2.0, -2.0, 0.0], dtype=torch.float64).softmax(0))  # qᵀ W_a h_j
    additive = AdditiveAttention(2, 2, 1).double()
    with torch.no_grad():
        additive.query_kernel.weight.copy_(torch.tensor([[1.0, 0.0]]))  # W_a q = q_1 = 1
        additive.key_kernel.weight.copy_(torch.tensor([[0.0, 1.0]]))  # U_a h_j = h_j2
        additive.key_kernel.bias.zero_()
        additive.v.weight.fill_(2.0)  # v_a
    _, weights = additive(q, h, mask)
    expected = 2.0 * torch.tanh(1.0 + torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(weights[0], expected.softmax(0))


def test_masked_softmax_is_the_softmax_of_the_real_entries():
    scores = torch.tensor([[0.5, -1.0, 2.0, 7.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False]])
    torch.testing.assert_close(masked_softmax(scores, mask)[0, :3], scores[0, :3].softmax(0))


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck(kind):
    attention = build_attention(kind, 3, 3, 4).double()
    keys, mask = keys_and_mask(B=2, T=4, K=3, lengths=(4, 2))
    query = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q, k: attention(q, k, mask)[0], (query, keys))


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ValueError, match="dot attention needs the query size \\(3\\) to equal the key size \\(4\\)"):
        MultiplicativeAttention(3, 4, "dot")


# --- the encoder–decoder --------------------------------------------------------------------------

META = make_meta(
    task="seq2seq",
    num_features=4,
    num_classes=9,
    target_embedding_size=3,
    max_output_ratio=1.5,
    vocabulary=["<pad>", "<unk>", "a", "b", "c", "d"],
)


def seq2seq(arch: str, kind: str = "additive"):
    params = settings_for(arch, attention=kind) if arch == "attention" else settings_for(arch, bidirectional=True)
    return build_model(params, META).double().eval()


def source_batch():
    x = torch.tensor([[2, 3, 4, 5, 2], [3, 3, 0, 0, 0], [5, 4, 2, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    y = torch.tensor(
        [[4, 5, 6, 7, 8, END_ID], [8, 7, END_ID, IGNORE, IGNORE, IGNORE], [6, 6, 5, END_ID, IGNORE, IGNORE]]
    )
    return x, lengths, y


@pytest.mark.parametrize(
    "arch, kind", [("gru", None), ("attention", "additive"), ("attention", "general"), ("attention", "dot")]
)
def test_decoder_outputs_do_not_depend_on_padding_or_batch_mates(arch, kind):
    model = seq2seq(arch, kind)
    x, lengths, y = source_batch()
    out = model(x, lengths, y)
    wider = torch.cat([x, torch.zeros(3, 4, dtype=torch.int64)], 1)  # more source padding
    torch.testing.assert_close(model(wider, lengths, y).prediction, out.prediction, atol=1e-12, rtol=0)
    alone = model(x[2:, :3], lengths[2:], y[2:, :4])  # the third sequence by itself
    torch.testing.assert_close(alone.prediction[0], out.prediction[2, :4], atol=1e-12, rtol=0)
    if kind is None:
        assert out.attention is None
    else:
        assert out.attention.shape == (3, 6, 5)
        assert torch.all(out.attention[1, :, 2:] == 0), "alignment on padded source steps"
        torch.testing.assert_close(out.attention.sum(-1), torch.ones(3, 6, dtype=torch.float64), atol=1e-12, rtol=0)


def test_teacher_forcing_reads_the_previous_target_and_greedy_reads_its_own_output():
    """Teacher-forced step i must equal greedy step i whenever the greedy output so far equals the target."""
    model = seq2seq("attention")
    x, lengths, _ = source_batch()
    free = model(x, lengths).prediction  # (B, L, V)
    written = free.argmax(-1)
    forced = model(x, lengths, written).prediction  # teacher forcing with the model's own output
    chosen = torch.isfinite(free).all(-1)  # steps the model chose (not the </s> forced at a sequence's cap)
    torch.testing.assert_close(forced[chosen], free[chosen], atol=1e-12, rtol=0)
    assert chosen.sum() > 3
    limit = int(1.5 * 5) + 2
    assert free.shape[1] <= limit, "greedy decoding stops at ⌈ratio·T⌉ + 1 steps"


def test_greedy_output_of_a_sequence_does_not_depend_on_its_batch_mates():
    """Each sequence writes at most ⌈ratio·T⌉ + 1 symbols (its own cap, ending in </s>): decoded alone
    or beside a longer source, the same ids."""
    model = seq2seq("attention", "general")
    x, lengths, _ = source_batch()
    together = model(x, lengths).prediction
    for b in range(3):
        n = int(lengths[b])
        alone = model(x[b : b + 1, :n], lengths[b : b + 1]).prediction
        assert decoded(together[b]).tolist() == decoded(alone[0]).tolist()
        assert len(decoded(alone[0])) <= int(torch.ceil(torch.tensor(1.5 * n))) + 1


def test_decoded_ids_stop_at_the_first_end_token():
    logits = torch.nn.functional.one_hot(torch.tensor([5, 6, END_ID, 7]), 9).double()
    assert decoded(logits).tolist() == [5, 6, END_ID]
    assert decoded(logits[:2]).tolist() == [5, 6, END_ID], "an end is appended when the decoder never wrote one"


def test_sequence_metrics_by_hand():
    assert edit_distance(torch.tensor([1, 2, 3]).numpy(), torch.tensor([1, 3]).numpy()) == 1
    assert edit_distance(torch.tensor([4, 5]).numpy(), torch.tensor([5, 4]).numpy()) == 2
    assert edit_distance(torch.tensor([], dtype=torch.int64).numpy(), torch.tensor([7, 7]).numpy()) == 2
    E = END_ID
    predicted = torch.tensor([5, 6, E, 7, E, 4, 4, 4, E]).numpy()
    target = torch.tensor([5, 6, E, 8, E, 4, 4, E]).numpy()
    metrics = sequence_metrics(predicted, target, {})
    assert metrics["sequence_accuracy"] == pytest.approx(1 / 3)
    assert metrics["token_error_rate"] == pytest.approx((0 + 1 + 1) / 5)


def test_flatten_keeps_one_end_per_sequence():
    _, _, y = source_batch()
    logits = torch.nn.functional.one_hot(torch.tensor([[4, END_ID, 4], [7, 7, 7], [END_ID, 1, 1]]), 9).double()
    predicted, target = TASKS["seq2seq"].flatten(logits, y)
    assert predicted.tolist() == [4, END_ID, 7, 7, 7, END_ID, END_ID]
    assert target.tolist() == [4, 5, 6, 7, 8, END_ID, 8, 7, END_ID, 6, 6, 5, END_ID]


@pytest.mark.slow
def test_after_training_on_reversal_the_alignment_is_anti_diagonal():
    """400 Adam steps on reversing 3–8 digits, then teacher-forced alignments on fresh strings.

    Output step i must read source position L−1−i. The bidirectional encoder's h_{j+1} also carries
    x_j (through its backward direction), so attention one position late still reads the right
    digit and is what some seeds learn: the strongest weight must lie within one position of the
    anti-diagonal nearly always, and exactly on it for most steps (chance: about 1/L, below 0.2 here).
    """
    import numpy as np

    from rnnlab.data.batching import collate

    torch.manual_seed(0)
    vocabulary = ["<pad>", "<unk>"] + [str(d) for d in range(10)]
    meta = replace(META, num_features=16, num_classes=14, target_embedding_size=16, vocabulary=vocabulary)
    model = build_model(settings_for("attention", hidden_size=32, attention_size=32), meta)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    rng = np.random.default_rng(0)

    def batch(n):
        digits = [rng.integers(0, 10, size=int(rng.integers(3, 9))) for _ in range(n)]
        return collate(
            [(torch.tensor(d + 2), torch.tensor([*(d[::-1] + 4), END_ID])) for d in digits]
        )  # ids: digit + 2 in, digit + 4 out

    for _ in range(400):
        b = batch(32)
        loss = TASKS["seq2seq"].loss(model(b.x, b.lengths, b.y).prediction, b.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    b = batch(200)
    with torch.no_grad():
        attention = model(b.x, b.lengths, b.y).attention
    offsets = np.concatenate(
        [attention[i, :n, :n].argmax(1).numpy() - np.arange(n)[::-1] for i, n in enumerate(b.lengths.tolist())]
    )
    assert np.mean(np.abs(offsets) <= 1) > 0.95
    assert np.mean(offsets == 0) > 0.6
