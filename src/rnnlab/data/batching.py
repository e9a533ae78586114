"""Batches of variable-length sequences: padding plus lengths, and length-bucketed batching.

Bucketing puts sequences of similar length in one batch, so little compute is spent on padding:
a shuffled pass is cut into chunks of ``bucket_width`` batches, each chunk is sorted by length and
cut into batches, and the batch order is shuffled. Deterministic for a given (seed, epoch).

Under DDP every rank builds the same global batch list and takes every ``num_replicas``-th batch
from its ``rank``: disjoint shards. Training pads the list by repeating its first batches so every
rank gets the same number of batches (a rank with fewer would hang the others in all-reduce);
evaluation (``pad=False``) never repeats a sequence, so gathered metrics equal a whole-set pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import BatchSampler, Dataset

from rnnlab.data.table import sequences_of


class Batch(NamedTuple):
    x: Tensor  # (B, T, D) zero-padded
    lengths: Tensor  # (B,) int64 on the CPU (pack_padded_sequence wants it there)
    y: Tensor  # (B,) class index


class SequenceSet(Dataset):
    def __init__(self, arrays: list[np.ndarray], targets: list[int], ids: list) -> None:
        self.features = [torch.from_numpy(np.array(a, dtype=np.float32)) for a in arrays]  # own, writable copies
        self.targets = torch.as_tensor(targets, dtype=torch.int64)
        self.ids = ids
        self.lengths = [len(a) for a in arrays]

    @classmethod
    def from_table(cls, df: pd.DataFrame, classes: list[str], features: list[str] | None = None) -> "SequenceSet":
        """Labelled sequences; without a label column (prediction input) every target is -1."""
        arrays, labels, ids = sequences_of(df, features)
        index = {c: i for i, c in enumerate(classes)}
        return cls(arrays, [index[label] if label is not None else -1 for label in labels], ids)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.features[i], self.targets[i]


def collate(items: list[tuple[Tensor, Tensor]]) -> Batch:
    features, targets = zip(*items)
    x = pad_sequence(list(features), batch_first=True)  # (B, T, D)
    lengths = torch.tensor([len(f) for f in features], dtype=torch.int64)
    return Batch(x, lengths, torch.stack(targets))


class LengthBucketBatchSampler(BatchSampler):
    """Yields lists of indices; call ``set_epoch`` (Lightning does) for a new shuffle each epoch."""

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool,
        seed: int,
        bucket_width: int,
        num_replicas: int = 1,
        rank: int = 0,
        pad: bool = True,
    ) -> None:
        if batch_size < 1 or bucket_width < 1:
            raise ValueError(f"batch_size and bucket_width must be ≥ 1, got {batch_size} and {bucket_width}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_width = bucket_width
        self.num_replicas = num_replicas
        self.rank = rank
        self.pad = pad
        self.drop_last = False
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        total = -(-len(self.lengths) // self.batch_size)
        if self.pad:
            return -(-total // self.num_replicas)
        return len(range(self.rank, total, self.num_replicas))

    def global_batches(self) -> list[list[int]]:
        """Every rank's batches, in order, before sharding."""
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        chunk = self.batch_size * self.bucket_width
        batches = []
        for start in range(0, n, chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]  # sort the chunk by length
            batches += [part[i : i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size)]
        return [batches[b] for b in rng.permutation(len(batches))]

    def __iter__(self):
        batches = self.global_batches()
        if self.pad:  # repeat the first batches until every rank has the same count
            batches += [batches[i % len(batches)] for i in range(-len(batches) % self.num_replicas)]
        yield from batches[self.rank :: self.num_replicas]
