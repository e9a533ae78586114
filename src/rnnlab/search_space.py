"""What `rnnlab tune` may vary: a range of numbers or a list of choices per setting.

Each architecture declares its space in the registry (``Architecture.space``); the settings of the
train section that every architecture shares are ``TRAIN_SPACE``, and those of a kind of input are
``INPUT_SPACES`` (the token embedding's size where a dataset reads symbols). params.yaml's ``tune.space``
may replace any of them for one architecture entry. A range of two integers draws integers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


class Range(BaseModel):
    """Numbers from ``low`` to ``high`` (both included); ``log``: drawn uniformly in log space."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float | int
    high: float | int
    log: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"empty range: low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must start above 0 (low {self.low})")
        return self

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def suggest(self, trial, name: str) -> Any:
        if self.integer:
            return trial.suggest_int(name, self.low, self.high, log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)


class Choice(BaseModel):
    """One of ``choices`` (numbers, booleans or words)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    choices: list[bool | int | float | str] = Field(min_length=1)

    def suggest(self, trial, name: str) -> Any:
        return trial.suggest_categorical(name, self.choices)


def _kind(value: Any) -> str:
    return "choice" if isinstance(value, Choice) or (isinstance(value, dict) and "choices" in value) else "range"


# One entry of params.yaml's tune.space: {choices: [...]} is a Choice, anything else a Range.
SpaceEntry = Annotated[Annotated[Range, Tag("range")] | Annotated[Choice, Tag("choice")], Discriminator(_kind)]
ENTRY_TAGS = ("range", "choice")  # where pydantic names the tag in an error's location
Space = dict[str, Range | Choice]

# Shared by every architecture, so a comparison tunes the optimiser alike for all of them.
TRAIN_SPACE: Space = {
    "learning_rate": Range(low=3e-4, high=1e-2, log=True),
    "weight_decay": Choice(choices=[0.0, 1e-5, 1e-4]),
    "batch_size": Choice(choices=[16, 32, 64]),
}

# Per kind of input, beside TRAIN_SPACE: a dataset that reads symbols (tokens:) also tunes the size of each
# token's learned vector (train.embedding_size). A forecast's window is not tuned: it shapes the prepared data.
INPUT_SPACES: dict[str, Space] = {
    "tokens": {"embedding_size": Range(low=8, high=64, log=True)},
}
INPUT_KEYS = {key for space in INPUT_SPACES.values() for key in space}  # settings only some datasets tune

# A stacked recurrent encoder (Elman, LSTM, GRU, depth-gated, attention, ACT): width, depth, dropout
# between layers, and both directions where the task allows them.
RECURRENT_SPACE: Space = {
    "hidden_size": Range(low=16, high=128, log=True),
    "num_layers": Range(low=1, high=2),
    "dropout": Range(low=0.0, high=0.5),
    "bidirectional": Choice(choices=[False, True]),
}
