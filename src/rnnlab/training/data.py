"""The LightningDataModule of a run: length-bucketed batches, sharded by the trainer's rank."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from rnnlab.config import TrainConfig
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate


class SequenceData(L.LightningDataModule):
    """Length-bucketed loaders, sharded by the trainer's rank and world size."""

    def __init__(self, train_set: SequenceSet, val_set: SequenceSet, train_cfg: TrainConfig, seed: int) -> None:
        super().__init__()
        self.train_set, self.val_set, self.train_cfg, self.seed = train_set, val_set, train_cfg, seed

    def _loader(self, data: SequenceSet, shuffle: bool) -> DataLoader:
        batch_size = self.train_cfg.batch_size
        if not shuffle:  # evaluation: at least one batch per rank, or a rank would skip the gather
            batch_size = max(1, min(batch_size, -(-len(data) // self.trainer.world_size)))
        sampler = LengthBucketBatchSampler(
            data.lengths,
            batch_size,
            shuffle=shuffle,
            seed=self.seed,
            bucket_width=self.train_cfg.bucket_width if shuffle else 1,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            pad=shuffle,
        )
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
