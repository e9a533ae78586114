"""One LightningModule for every architecture.

The loss is the task's (or Huber's, for value targets) plus the model's ``aux_loss``; validation
metrics are computed from every rank's predictions gathered together, so they equal a
single-process pass over the whole split; the RNG state travels in the checkpoint so that a
resumed training draws the same dropout masks as an uninterrupted one.
"""

from __future__ import annotations

import warnings

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from rnnlab.data.meta import DatasetMeta
from rnnlab.errors import RnnlabError
from rnnlab.tasks import TASKS

# Lightning 2.6.6 with torch 2.13 warns from its own pytree helper on every batch.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


class SequenceModule(L.LightningModule):
    """Trains any model whose forward(x, lengths) returns a ModelOutput.

    The loss is the task's loss plus the model's ``aux_loss`` (zero for plain RNNs; ACT's ponder
    cost, for instance), so no architecture needs a case here.
    """

    def __init__(
        self,
        model: nn.Module,
        meta: DatasetMeta,
        learning_rate: float,
        weight_decay: float,
        gradient_noise: float = 0.0,
        huber_delta: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.meta = meta
        self.task = TASKS[meta.task]
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.gradient_noise = gradient_noise
        self.huber_delta = huber_delta if self.task.target == "value" else None
        # Huber's δ is in the target's own units
        self.target_std = float(meta.target_scale["std"]) if meta.target_scale else 1.0
        self._val_parts: list[tuple[torch.Tensor, torch.Tensor, float]] = []

    def forward(self, x, lengths):
        return self.model(x, lengths)

    def loss(self, prediction, target, reduction: str = "mean"):
        """The task's loss; for value targets Huber's instead of the squared error when huber_delta is set.

        Huber's loss is taken in the target's own units (targets are standardized: both sides are
        multiplied back by the target's std), so δ reads as the data does — the Neural Programmer's
        δ = 10 is ten answer units, and a count and a sum of a hundred get gradients of the same size.
        """
        if self.huber_delta is not None:
            s = self.target_std
            return F.huber_loss(prediction * s, target * s, reduction=reduction, delta=self.huber_delta)
        return self.task.loss(prediction, target, reduction=reduction)

    def on_before_optimizer_step(self, optimizer) -> None:
        """Annealed gradient noise (Neelakantan et al. 2015): g += N(0, η / (1 + t)^0.55), before clipping."""
        if self.gradient_noise > 0:
            std = (self.gradient_noise / (1 + self.global_step) ** 0.55) ** 0.5
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.add_(torch.randn_like(p.grad), alpha=std)

    def training_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths, batch.y)  # the target is offered for teacher forcing
        loss = self.loss(out.prediction, batch.y)
        total = loss + out.aux_loss
        if not _finite_everywhere(total):  # every rank stops together: one alone would hang the others
            raise RnnlabError(
                f"training stopped: the loss is {total.item()} at epoch {self.current_epoch}, batch {batch_idx} "
                f"(try a lower train.learning_rate or train.gradient_clip)"
            )
        size = len(batch.lengths)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        if out.aux_loss.requires_grad:
            self.log("train_aux_loss", out.aux_loss, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        return total

    def validation_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths, batch.y)
        loss_sum = self.loss(out.prediction, batch.y, reduction="sum")
        if self.task.decodes:  # the loss is teacher-forced; the metrics score what the model writes alone
            out = self.model(batch.x, batch.lengths)
        prediction, target = self.task.flatten(out.prediction, batch.y)  # real targets only
        self._val_parts.append((prediction.detach().float().cpu(), target.cpu(), float(loss_sum)))

    def on_validation_epoch_end(self):
        parts = _gather(self._val_parts)  # every rank's predictions: metrics of the whole split
        self._val_parts = []
        predicted = torch.cat([p for p, _, _ in parts]).numpy()
        target = torch.cat([t for _, t, _ in parts]).numpy()
        self.log("val_loss", sum(s for _, _, s in parts) / len(target))
        for name, value in self.task.metrics(predicted, target, self.meta).items():
            self.log(f"val_{name}", value)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rnnlab_rng"] = {"torch": torch.get_rng_state()}  # dropout draws continue exactly on resume

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "rnnlab_rng" in checkpoint:
            torch.set_rng_state(checkpoint["rnnlab_rng"]["torch"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)


def _finite_everywhere(value: torch.Tensor) -> bool:
    """True when ``value`` is finite on this rank and, under DDP, on every other rank too."""
    finite = torch.isfinite(value.detach()).all().to(torch.int32).reshape(1)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def _gather(parts: list) -> list:
    if not (dist.is_available() and dist.is_initialized()):
        return parts
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, parts)
    return [part for rank_parts in everyone for part in rank_parts]
