"""DialogueRNN: party states, speaker permutations, the reversed speaker mask, padding, gradients."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.dialogue import DialogueRNN
from rnnlab.nn.sequence import reverse_within_length

D, P = 5, 3


def dialogue_batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random utterances with random speakers (one-hot), zero padding after each length. (B, T, D + P)."""
    g = torch.Generator().manual_seed(seed)
    B, T = len(lengths), max(lengths)
    u = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    speakers = torch.nn.functional.one_hot(torch.randint(0, P, (B, T), generator=g), P).double()
    x = torch.cat([u, speakers], -1)
    for b, n in enumerate(lengths):
        x[b, n:] = 0
    return x, torch.tensor(lengths)


def model(**kwargs) -> DialogueRNN:
    torch.manual_seed(0)
    options = dict(global_size=6, party_size=4, emotion_size=5, output_size=7) | kwargs
    return DialogueRNN(D + P, P, **options).double()


@pytest.mark.parametrize("listener", ["passive", "active"])
def test_only_the_speaker_changes_state_in_the_passive_model(listener):
    net = model(listener=listener)
    x, lengths = dialogue_batch([9, 6])
    u, speakers = net.split(x, lengths)
    _, states = net.run(net.cells[0], u, speakers, lengths)
    previous = torch.zeros_like(states[0].q)
    changed_listener = False
    for t, state in enumerate(states):
        for b in range(2):
            for p in range(P):
                same = torch.equal(state.q[b, p], previous[b, p])
                if t >= lengths[b]:
                    assert same, "a padded step changed a party"
                elif speakers[b, t, p] == 0:
                    changed_listener |= not same
                    if listener == "passive":
                        assert same, f"party {p} of dialogue {b} changed at utterance {t} without speaking"
                else:
                    assert not same, "the speaker's state was not updated"
        previous = state.q
    assert changed_listener == (listener == "active")


@pytest.mark.parametrize("bidirectional,emotion_attention", [(False, False), (True, True)])
def test_permuting_parties_permutes_their_states_and_keeps_predictions(bidirectional, emotion_attention):
    net = model(bidirectional=bidirectional, emotion_attention=emotion_attention, listener="active")
    x, lengths = dialogue_batch([8, 5, 7])
    permutation = torch.tensor([2, 0, 1])
    permuted = torch.cat([x[..., :D], x[..., D:][..., permutation]], -1)
    out, out_permuted = net(x, lengths), net(permuted, lengths)
    torch.testing.assert_close(out_permuted.steps, out.steps, rtol=0, atol=1e-12)
    states = net.run(net.cells[0], *net.split(x, lengths), lengths)[1][-1].q
    states_permuted = net.run(net.cells[0], *net.split(permuted, lengths), lengths)[1][-1].q
    torch.testing.assert_close(states_permuted, states[:, permutation], rtol=0, atol=1e-12)


def test_the_backward_direction_reads_the_reversed_speakers():
    """The backward half equals a one-direction model with the backward cell run on the dialogue
    reversed — utterances and speakers; reversing the utterances alone (the old bug) differs."""
    net = model(bidirectional=True)
    x, lengths = dialogue_batch([8, 6, 3])
    u, speakers = net.split(x, lengths)
    both, _ = net.run(
        net.cells[1], reverse_within_length(u, lengths), reverse_within_length(speakers, lengths), lengths
    )
    buggy, _ = net.run(net.cells[1], reverse_within_length(u, lengths), speakers, lengths)
    forward, _ = net.run(net.cells[0], u, speakers, lengths)
    e = torch.cat([forward, reverse_within_length(both, lengths)], -1)
    expected = torch.relu(net.output(e)) * (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    torch.testing.assert_close(net(x, lengths).steps, expected, rtol=0, atol=1e-12)
    assert not torch.allclose(both, buggy)


def test_a_padded_batch_equals_each_dialogue_alone():
    net = model(bidirectional=True, emotion_attention=True, listener="active")
    x, lengths = dialogue_batch([9, 4, 6])
    batch = net(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = net(x[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(batch.steps[b, :n], alone.steps[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(batch.summary[b], alone.summary[0], rtol=0, atol=1e-12)
        assert torch.all(batch.steps[b, n:] == 0)


def test_one_direction_is_causal():
    """Utterance t's output reads utterances ≤ t only (the context attends over earlier global states)."""
    net = model()
    x, lengths = dialogue_batch([8])
    changed = x.clone()
    changed[0, 5:, :D] += 1.0
    a, b = net(x, lengths).steps, net(changed, lengths).steps
    torch.testing.assert_close(a[0, :5], b[0, :5], rtol=0, atol=0)
    assert not torch.allclose(a[0, 5:], b[0, 5:])


def test_gradcheck():
    net = model(
        global_size=3,
        party_size=2,
        emotion_size=2,
        output_size=2,
        listener="active",
        bidirectional=True,
        emotion_attention=True,
    )
    x, lengths = dialogue_batch([4, 3])
    u = x[..., :D].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda u: net(torch.cat([u, x[..., D:]], -1), lengths).steps, (u,))


def test_bad_speaker_columns_are_named():
    net = model()
    x, lengths = dialogue_batch([5, 4])
    x[1, 2, D:] = torch.tensor([1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="dialogue 1 of the batch, utterance 2"):
        net(x, lengths)
    with pytest.raises(ValueError, match="needs a speaker column"):
        DialogueRNN(P, P, 4, 4, 4, 4)
