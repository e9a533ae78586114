"""The training module's own guarantees, in process (no subprocess, no MLflow)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.batching import Batch
from rnnlab.errors import RnnlabError
from rnnlab.evaluate import build_model
from rnnlab.registry import RecurrentParams
from rnnlab.train import SequenceModule

PARAMS = RecurrentParams(type="lstm", hidden_size=4, num_layers=1, bidirectional=False, dropout=0.0, init="pytorch", backend="auto")
META = {"task": "classify", "num_features": 3, "num_classes": 2}


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
