"""What prepare learned about a dataset, written beside its splits as meta.json and read by every
step after it (training, scoring, serving, references): the task, the input encoding fitted on
train, the target's classes or scale, the split sizes and the baselines measured while preparing.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnlab.errors import DataError

if TYPE_CHECKING:
    from rnnlab.kinds.base import TaskKind

# Floor for a standard deviation prepare fits: a constant feature or target is centred, not divided by ~0.
MIN_STD = 1e-8


@dataclass
class DatasetMeta:
    dataset: str
    task: str  # a task kind's name (rnnlab.kinds)
    features: list[str]  # numeric input columns, in the order the model reads them ([] for tokens)
    vocabulary: list[str] | None  # input tokens: <pad>, <unk>, then by count; None for numeric inputs
    num_features: int  # D the encoder reads per step (the token embedding's size for tokens)
    parties: int  # > 0: a dialogue; the speaker one-hot (P columns) follows the features
    normalizer: dict[str, list[float]] | None  # per-feature mean and std over the training steps
    lengths: dict[str, dict[str, float]]  # per split: sequences, min, max, mean steps
    seed: int  # the split seed
    baselines: dict[str, dict[str, dict[str, float]]]  # split -> reference name -> its metrics
    classes: list[str] = field(default_factory=list)  # class names, bits, tokens or output symbols; [] for values
    num_classes: int = 0
    target: str | None = None  # the column a value target comes from
    target_scale: dict[str, float] | None = None  # a value target's training mean and std (it is standardized)
    target_signed: bool | None = None  # a value target takes both signs (its direction is scored)
    target_whole: bool | None = None  # every training value is a whole number (rounded answers are scored too)
    max_output_ratio: float | None = None  # seq2seq: the largest (output length + 1) / input length in train
    target_embedding_size: int | None = None  # seq2seq: the decoder's embedding of the previous symbol
    limits: dict[str, int] | None = None  # a served model's request limits (serving section of params.yaml)
    tuning_split: dict[str, Any] | None = None  # a tuning split: which repeat, drawn from which prepared data
    downsample: int | None = None  # steps averaged k at a time before anything else (a served input too)
    frame: int | None = None  # then k steps side by side in one (features f@0 … f@{k−1}; a served input too)
    sequence_scale: bool | None = None  # then each sequence over its own size, the size's log a feature (f~level)

    @property
    def reading(self) -> tuple[int | None, int | None, bool | None]:
        """How a sequence's steps are read before they are normalized: (downsample, frame, sequence_scale)."""
        return self.downsample, self.frame, self.sequence_scale

    @property
    def kind(self) -> TaskKind:
        from rnnlab.kinds import KINDS

        return KINDS[self.task]

    def destandardized(self, values):
        """A value target's standardized numbers back in its own units."""
        return values * self.target_scale["std"] + self.target_scale["mean"]

    def standardized(self, values):
        """A value target in its own units -> as the model learns it."""
        return (values - self.target_scale["mean"]) / self.target_scale["std"]

    def raw_features(self, values: np.ndarray) -> np.ndarray:
        """(…, D) standardized features back in their own units."""
        return values * np.array(self.normalizer["std"]) + np.array(self.normalizer["mean"])

    def to_dict(self) -> dict:
        """As meta.json holds it: the fields that apply to this dataset (None ones left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k in REQUIRED}

    @classmethod
    def from_dict(cls, data: dict, where: str = "meta") -> DatasetMeta:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        missing = sorted(REQUIRED - set(data))
        if unknown or missing:
            what = f"unknown field {unknown[0]!r}" if unknown else f"missing field {missing[0]!r}"
            raise DataError(f"{where}: {what}; prepare the dataset again (its meta.json is not rnnlab's)")
        return cls(**data)

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> DatasetMeta:
        return cls.from_dict(json.loads(Path(path).read_text()), str(path))


REQUIRED = {f.name for f in fields(DatasetMeta) if f.default is MISSING and f.default_factory is MISSING}
