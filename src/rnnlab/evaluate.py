"""Model construction from params and evaluation of a model on a prepared split (no Lightning)."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnlab import registry
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate
from rnnlab.data.meta import DatasetMeta
from rnnlab.models.inputs import TokenInput
from rnnlab.tasks import TASKS


def build_model(arch_params: BaseModel, meta: DatasetMeta, embedding_size: int | None = None) -> nn.Module:
    """Encoder from the registry (behind a token embedding for symbol data: ``embedding_size``, the run's
    train.embedding_size, or the prepared data's), head from the task."""
    width = (embedding_size or meta.num_features) if meta.vocabulary else meta.num_features
    encoder = registry.build_encoder(arch_params, width, meta)
    if meta.vocabulary:
        encoder = TokenInput(len(meta.vocabulary), width, encoder)
    return TASKS[meta.task].build_head(encoder, meta)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def ordered_loader(data: SequenceSet, batch_size: int) -> DataLoader:
    """Length-sorted, unshuffled batches: for validation and test."""
    sampler = LengthBucketBatchSampler(data.lengths, batch_size, shuffle=False, seed=0, bucket_width=1)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate)


@torch.no_grad()
def forward_all(model: nn.Module, data: SequenceSet, batch_size: int, task: str) -> list[Tensor]:
    """The model's raw prediction for every sequence, in dataset order: (C,) or () per sequence,
    (T, C) for per-step tasks (padding cut off), decoded ids (L,) up to </s> for seq2seq."""
    model.eval()
    answers: list[Tensor | None] = [None] * len(data)
    loader = ordered_loader(data, batch_size)
    for indices, batch in zip(loader.batch_sampler, loader):
        prediction = model(batch.x, batch.lengths).prediction
        for row, (i, n) in enumerate(zip(indices, batch.lengths.tolist())):
            answers[i] = TASKS[task].answer(prediction[row], n)
    return answers


def predict(model: nn.Module, data: SequenceSet, task: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw predictions, targets) of every real target, in dataset order, as the task's metrics take them."""
    answers = forward_all(model, data, batch_size, task)
    kind = TASKS[task]
    if kind.per_step and not kind.decodes:  # each sequence's steps with a target (label_bits: its answer steps)
        pairs = [kind.flatten(a, t) for a, t in zip(answers, data.targets)]
        return torch.cat([p for p, _ in pairs]).numpy(), torch.cat([t for _, t in pairs]).numpy()
    if kind.per_step:  # decoded ids, each sequence closed by </s>
        return torch.cat(answers).numpy(), data.flat_targets().numpy()
    return torch.stack(answers).numpy(), torch.stack(data.targets).numpy()  # one row per sequence


def evaluate(model: nn.Module, data: SequenceSet, meta: DatasetMeta, batch_size: int) -> dict[str, float]:
    prediction, target = predict(model, data, meta.task, batch_size)
    return TASKS[meta.task].metrics(prediction, target, meta)
