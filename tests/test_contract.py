"""One contract test looped over every registered architecture (and each backend it allows).

Shapes, state handling and masking: changing padded values changes no output at real steps and
no summary; a sequence's result does not depend on what else is in the batch.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnlab import architectures, registry
from rnnlab.config import load_config
from rnnlab.evaluate import build_model
from rnnlab.models.output import Encoded, Encoder
from rnnlab.nn.stack import RecurrentStack
from tests.conftest import ROOT, dataset_batch

CONFIG = load_config(ROOT / "params.yaml")


def settings_for(arch_type: str, **changes):
    """The project's params.yaml settings for this type, made small for speed (changes that the
    type does not take, e.g. bidirectional for the dilated RNN, are left out)."""
    for params in CONFIG.architectures.values():
        if params.type == arch_type:
            changes = {k: v for k, v in {"hidden_size": 5, **changes}.items() if k in type(params).model_fields}
            return type(params).model_validate({**params.model_dump(), **changes})
    pytest.fail(f"architecture {arch_type!r} is registered but not configured in params.yaml")


CASES = [
    (name, backend, bidirectional, layers)
    for name in architectures.ARCHITECTURES
    for backend in ("auto", "reference")
    for bidirectional, layers in ((False, 1), (True, 2))
]


def batch_for(name: str):
    """A batch of the kind of data the architecture reads (any: 3 features; a dialogue; table questions)."""
    x, lengths, _ = dataset_batch(architectures.get(name).data)
    return x, lengths


def build(name, backend, bidirectional, layers):
    params = settings_for(name, backend=backend, bidirectional=bidirectional, num_layers=layers)
    x, _, meta = dataset_batch(architectures.get(name).data)
    return registry.build_encoder(params, x.shape[-1], meta).double().eval()


@pytest.mark.parametrize("name, backend, bidirectional, layers", CASES)
def test_encoder_contract(name, backend, bidirectional, layers):
    encoder = build(name, backend, bidirectional, layers)
    x, lengths = batch_for(name)
    B, T, _ = x.shape
    encoded = encoder(x, lengths)
    E = encoder.output_size
    assert isinstance(encoder, Encoder) and isinstance(encoded, Encoded), "the written contract, models/output.py"
    assert encoded.steps.shape == (B, T, E)
    assert encoded.summary.shape == (B, E)
    assert encoded.aux_loss.shape == ()
    padded = torch.arange(T)[None, :] >= lengths[:, None]
    assert torch.all(encoded.steps[padded] == 0), "outputs at padded steps must be zero"

    garbage = x.clone()
    garbage[padded] = 1e3 * torch.randn_like(garbage[padded])
    again = encoder(garbage, lengths)
    torch.testing.assert_close(again.steps, encoded.steps, atol=1e-12, rtol=0)
    torch.testing.assert_close(again.summary, encoded.summary, atol=1e-12, rtol=0)

    alone = encoder(x[2:3, : lengths[2]], lengths[2:3])  # the same sequence without the others or padding
    torch.testing.assert_close(alone.summary[0], encoded.summary[2], atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
def test_stack_state_handling(name):
    encoder = build(name, "reference", True, 2)
    stack = getattr(encoder, "stack", None)
    if not isinstance(stack, RecurrentStack):
        pytest.skip(
            f"{name}: not a RecurrentStack, so no stacked initial state to pass in (the dilated stack and "
            "DialogueRNN keep their own)"
        )
    x, lengths = batch_for(name)
    out_default, state_default = stack(x, lengths)
    zero = stack.initial_state(len(lengths), x)
    out_zero, state_zero = stack(x, lengths, zero)
    torch.testing.assert_close(out_default, out_zero)
    for field in state_zero:
        assert field.shape[:2] == (len(stack.cells), len(lengths))
    nonzero = type(zero)(*(torch.randn_like(f) for f in zero))
    out_nonzero, _ = stack(x, lengths, nonzero)
    assert not torch.allclose(out_nonzero, out_default), "a given initial state must be used"
    with pytest.raises(ValueError, match="expected leading dim"):
        stack(x, lengths, type(zero)(*(f[:-1] for f in zero)))  # one layer-direction short


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
def test_task_model_trains_one_step(name):
    x, lengths, data_meta = dataset_batch(architectures.get(name).data)
    task = "classify" if "classify" in architectures.get(name).tasks else "regress"
    meta = replace(data_meta, task=task, num_features=x.shape[-1], num_classes=4)
    model = build_model(settings_for(name), meta).double().train()
    out = model(x, lengths)
    target = torch.tensor([0, 1, 2, 3, 0]) if task == "classify" else torch.randn(5, dtype=torch.float64)
    assert out.prediction.shape == target.shape + ((4,) if task == "classify" else ())
    loss = (
        torch.nn.functional.cross_entropy(out.prediction, target)
        if task == "classify"
        else torch.nn.functional.mse_loss(out.prediction, target)
    ) + out.aux_loss
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_every_registered_architecture_declares_tasks_and_params():
    for arch in architectures.ARCHITECTURES.values():
        assert arch.tasks, arch.name
        assert "type" in arch.params.model_fields
