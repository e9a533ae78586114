"""The training module's own guarantees, in process (no subprocess, no MLflow)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnlab.architectures import RecurrentParams
from rnnlab.data.batching import Batch
from rnnlab.errors import RnnlabError
from rnnlab.evaluate import build_model
from rnnlab.training.module import SequenceModule
from tests.conftest import make_meta

PARAMS = RecurrentParams(
    type="lstm", hidden_size=4, num_layers=1, bidirectional=False, dropout=0.0, init="pytorch", backend="auto"
)
META = make_meta(task="classify", num_features=3, num_classes=2)


def batch():
    return Batch(torch.randn(2, 5, 3), torch.tensor([5, 3]), torch.tensor([0, 1]))


def test_a_non_finite_loss_stops_training_naming_epoch_and_batch():
    model = build_model(PARAMS, META)
    with torch.no_grad():
        model.output.weight.fill_(float("nan"))
    module = SequenceModule(model, META, 1e-3, 0.0)
    with pytest.raises(RnnlabError, match=r"training stopped: the loss is nan at epoch 0, batch 7"):
        module.training_step(batch(), 7)


def test_checkpoint_carries_the_rng_state():
    module = SequenceModule(build_model(PARAMS, META), META, 1e-3, 0.0)
    checkpoint: dict = {}
    torch.manual_seed(123)
    module.on_save_checkpoint(checkpoint)
    expected = torch.rand(3)
    torch.manual_seed(999)
    module.on_load_checkpoint(checkpoint)
    torch.testing.assert_close(torch.rand(3), expected)


def test_huber_loss_for_value_targets_only_when_asked():
    regress = make_meta(task="regress", num_features=3, num_classes=0)
    prediction, target = torch.tensor([0.0, 3.0]), torch.tensor([0.5, 0.0])
    plain = SequenceModule(build_model(PARAMS, regress), regress, 1e-3, 0.0)
    huber = SequenceModule(build_model(PARAMS, regress), regress, 1e-3, 0.0, huber_delta=1.0)
    assert plain.loss(prediction, target).item() == pytest.approx((0.25 + 9.0) / 2)  # MSE
    assert huber.loss(prediction, target).item() == pytest.approx(
        (0.5 * 0.25 + (3.0 - 0.5)) / 2
    )  # quadratic inside δ, linear outside
    scaled = replace(
        regress, target_scale={"mean": 40.0, "std": 10.0}
    )  # δ is in the target's own units: errors 5 and 30
    in_units = SequenceModule(build_model(PARAMS, scaled), scaled, 1e-3, 0.0, huber_delta=10.0)
    assert in_units.loss(prediction, target).item() == pytest.approx((0.5 * 25.0 + 10.0 * (30.0 - 5.0)) / 2)
    classify = SequenceModule(build_model(PARAMS, META), META, 1e-3, 0.0, huber_delta=1.0)
    assert classify.huber_delta is None  # classes keep cross-entropy


def test_gradient_noise_has_the_annealed_variance_and_follows_the_seed():
    module = SequenceModule(build_model(PARAMS, META), META, 1e-3, 0.0, gradient_noise=0.5)
    parameter = next(module.model.parameters())

    def noise_at_step_zero(seed: int) -> torch.Tensor:
        for p in module.model.parameters():
            p.grad = torch.zeros_like(p)
        torch.manual_seed(seed)
        module.on_before_optimizer_step(None)
        return parameter.grad.clone()

    first = noise_at_step_zero(0)
    assert torch.equal(first, noise_at_step_zero(0)) and not torch.equal(first, noise_at_step_zero(1))
    many = torch.cat([noise_at_step_zero(s).flatten() for s in range(40)])
    assert many.std().item() == pytest.approx(0.5**0.5, rel=0.1)  # η / (1 + t)^0.55 at t = 0


def test_a_run_reads_the_prepared_datas_md5_from_the_current_dvc_lock(tmp_path):
    """The tag comes from dvc.lock as it is now: parsed once per version of the file, read again when it changes."""
    import os

    from rnnlab.tracking import dvc_output_md5

    lock = tmp_path / "dvc.lock"
    entry = "schema: '2.0'\nstages:\n  prepare@toy:\n    outs:\n    - path: data/prepared/toy\n      md5: {}.dir\n"
    lock.write_text(entry.format("a" * 32))
    assert dvc_output_md5(tmp_path, "prepare@toy", "data/prepared/toy") == "a" * 32 + ".dir"
    assert dvc_output_md5(tmp_path, "prepare@other", "data/prepared/toy") is None
    lock.write_text(entry.format("b" * 32))  # the same size: the new modification time tells them apart
    stat = lock.stat()
    os.utime(lock, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert dvc_output_md5(tmp_path, "prepare@toy", "data/prepared/toy") == "b" * 32 + ".dir"
    lock.unlink()
    assert dvc_output_md5(tmp_path, "prepare@toy", "data/prepared/toy") is None
