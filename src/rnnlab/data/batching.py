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

from rnnlab.data.meta import DatasetMeta
from rnnlab.data.symbols import IGNORE, PAD_ID, UNK_ID
from rnnlab.data.table import LABEL, SPEAKER, TOKEN, sequences_of


class Batch(NamedTuple):
    x: Tensor  # (B, T, D) zero-padded features, or (B, T) token ids padded with PAD_ID
    lengths: Tensor  # (B,) int64 on the CPU (pack_padded_sequence wants it there)
    y: Tensor  # (B,) class index or value per sequence, (B, C) a 0/1 vector per sequence, or (B, T) per-step
    #            targets padded with IGNORE


class SequenceSet(Dataset):
    """Encoded sequences: an input tensor and a target tensor per sequence (see ``encode``)."""

    def __init__(self, inputs: list[Tensor], targets: list[Tensor], ids: list) -> None:
        self.inputs, self.targets, self.ids = inputs, targets, ids
        self.lengths = [len(a) for a in inputs]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.inputs[i], self.targets[i]

    def flat_targets(self) -> Tensor:
        """Every real target in dataset order (per-step targets concatenated)."""
        return torch.cat([t.reshape(-1) for t in self.targets])


def encode(df: pd.DataFrame, meta: DatasetMeta, with_targets: bool = True) -> SequenceSet:
    """A prepared table -> tensors, by the dataset's meta (inputs) and its task kind (targets:
    ``TaskKind.encode``). A dialogue's inputs end with its speaker one-hot (P columns, from the party
    indices). Without targets (prediction input) every sequence is read whole."""
    columns = [TOKEN] if meta.vocabulary else meta.features
    arrays, ids = sequences_of(df, columns)
    if meta.vocabulary:
        index = {token: i for i, token in enumerate(meta.vocabulary)}
        inputs = [torch.tensor([index.get(str(t), UNK_ID) for t in a[:, 0]], dtype=torch.int64) for a in arrays]  # (T,)
    else:
        inputs = [torch.from_numpy(np.array(a, dtype=np.float32)) for a in arrays]  # (T, D), own writable copies
    if meta.parties:  # a dialogue: [features ; speaker one-hot] (T, D + P)
        speakers, _ = sequences_of(df, [SPEAKER])
        eye = torch.eye(meta.parties)
        inputs = [torch.cat([x, eye[torch.from_numpy(s[:, 0].astype(np.int64))]], -1) for x, s in zip(inputs, speakers)]
    if not with_targets:
        return SequenceSet(inputs, [torch.tensor(IGNORE)] * len(inputs), ids)
    inputs, targets = meta.kind.encode(inputs, lambda: sequences_of(df, [LABEL])[0], meta)
    return SequenceSet(inputs, targets, ids)


def collate(items: list[tuple[Tensor, Tensor]]) -> Batch:
    inputs, targets = zip(*items)
    x = pad_sequence(list(inputs), batch_first=True, padding_value=PAD_ID)  # (B, T, D) or (B, T)
    lengths = torch.tensor([len(f) for f in inputs], dtype=torch.int64)
    if targets[0].dim() == 0:
        return Batch(x, lengths, torch.stack(targets))  # (B,)
    return Batch(x, lengths, pad_sequence(list(targets), batch_first=True, padding_value=IGNORE))  # (B, T)


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
