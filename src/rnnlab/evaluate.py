"""Model construction from params and evaluation of a model on a prepared split (no Lightning)."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn
from torch.utils.data import DataLoader

from rnnlab import registry
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate
from rnnlab.tasks import TASKS


def build_model(arch_params: BaseModel, meta: dict) -> nn.Module:
    """Encoder from the registry, head from the dataset's task."""
    encoder = registry.build_encoder(arch_params, meta["num_features"])
    return TASKS[meta["task"]].build_head(encoder, meta)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def ordered_loader(data: SequenceSet, batch_size: int) -> DataLoader:
    """Length-sorted, unshuffled batches: for validation and test."""
    sampler = LengthBucketBatchSampler(data.lengths, batch_size, shuffle=False, seed=0, bucket_width=1)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate)


@torch.no_grad()
def forward_all(model: nn.Module, data: SequenceSet, batch_size: int) -> torch.Tensor:
    """The model's raw prediction for every sequence, in dataset order (batches sorted by length)."""
    model.eval()
    outputs, order = [], []
    loader = ordered_loader(data, batch_size)
    for indices, batch in zip(loader.batch_sampler, loader):
        outputs.append(model(batch.x, batch.lengths).prediction)
        order += indices
    stacked = torch.cat(outputs)
    result = torch.empty_like(stacked)
    result[torch.as_tensor(order)] = stacked
    return result


def predict(model: nn.Module, data: SequenceSet, task: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, target) in dataset order."""
    return TASKS[task].decide(forward_all(model, data, batch_size)).numpy(), data.targets.numpy()


def confusion(predicted: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (target, predicted), 1)
    return matrix
