"""Typed schema of params.yaml — the one home of values.

Every value lives in params.yaml; these classes only say what shape it must have, so no field
has a default here. An unknown key, a wrong type, an unknown dataset source or architecture stops
the run before any work with one line naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from rnnlab import architectures
from rnnlab.data.sources import GENERATOR_OPTIONS, SOURCES, SPEAKER_SOURCES, TABLE_SOURCES
from rnnlab.errors import ConfigError
from rnnlab.kinds import KINDS
from rnnlab.params_file import merged
from rnnlab.search_space import ENTRY_TAGS, INPUT_KEYS, TRAIN_SPACE, SpaceEntry

PARAMS_FILE = "params.yaml"
STUDIES_DIR = "studies"  # one file per study: its experiment and the entries only it uses
PROFILES_DIR = "profiles"  # one file per profile: what it changes in params.yaml, applied when the config loads
PROFILE_KEY = "profile"  # params.yaml's list of the active profiles, applied in order
STUDY_KEYS = ("study", "datasets", "architectures")
STUDY_SECTIONS = ("datasets", "architectures", "experiments")
IMPORTED = "imported"  # a dataset written by `rnnlab import` (data/raw/<name>, tracked by DVC)

# The one rule for the names of datasets, architectures and experiments. A name becomes a word of
# dvc.yaml's shell commands, a DVC stage name, a folder and an MLflow experiment name, so it holds
# nothing a shell or a path gives meaning to. The YAML 1.1 keywords are refused too: a YAML 1.1
# reader turns them into booleans or null when written unquoted.
NAME_RULE = "[a-z][a-z0-9_]{0,63}"
NAME_PATTERN = re.compile(rf"\A{NAME_RULE}\Z")  # anchored: .match and .fullmatch agree
YAML_KEYWORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
MAX_SEED = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces


def check_name(name: Any, where: str) -> str:
    """``name`` if it follows the name rule; else a ConfigError of one line that starts with ``where``."""
    rule = f"a name must match {NAME_RULE} and not be a YAML keyword (y, n, yes, no, on, off, true, false, null)"
    if not isinstance(name, str):
        raise ConfigError(f"{where} {name!r}: YAML read this key as {type(name).__name__}, not a name; {rule}")
    if not NAME_PATTERN.match(name) or name in YAML_KEYWORDS:
        shown = repr(name) if len(name) <= 80 else f"{name[:40]!r}... ({len(name)} characters)"
        raise ConfigError(f"{where} {shown}: {rule}")
    return name


def _checked_names(value: Any, section: str) -> Any:
    """The keys of a params.yaml section checked against the name rule; the mapping returned as it is."""
    if isinstance(value, dict):
        for name in value:
            check_name(name, f"{PARAMS_FILE}: {section} key")
    return value


def _with_bases(entries: dict[str, Any], section: str, start: Callable[[str], dict]) -> dict[str, Any]:
    """Every entry of a section resolved: ``start(name)`` (or, with ``base: NAME``, entry NAME resolved)
    with the entry's own keys merged in."""
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: list[str]) -> Any:
        if name in resolved:
            return resolved[name]
        entry = entries[name]
        if not isinstance(entry, dict):
            return entry  # the schema names what is wrong with it
        own = {k: v for k, v in entry.items() if k != "base"}
        base = entry.get("base")
        if base is None:
            resolved[name] = merged(start(name), own)
            return resolved[name]
        if not isinstance(base, str) or base not in entries:
            raise ConfigError(
                f"{PARAMS_FILE}: {section}.{name}.base = {base!r}: not an entry of {section} "
                f"(defined: {', '.join(entries)})"
            )
        if base in chain:
            raise ConfigError(
                f"{PARAMS_FILE}: {section}.{name}.base: entries based on each other ({' -> '.join([*chain, base])})"
            )
        resolved[name] = merged(resolve(base, [*chain, base]), own)
        return resolved[name]

    return {name: resolve(name, [name]) for name in entries}


def _seed_in_range(seed: int) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"a seed must be in 0..{MAX_SEED} (the range of numpy and Lightning's seed_everything)")
    return seed


def _distinct_seeds(seeds: list[int]) -> list[int]:
    repeated = next((seed for i, seed in enumerate(seeds) if seed in seeds[:i]), None)
    if repeated is not None:
        raise ValueError(f"seed {repeated} is listed twice (each seed is one run: a repeat reports a spread of 0)")
    return seeds


Seed = Annotated[int, AfterValidator(_seed_in_range)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineConfig(Strict):
    datasets: list[str] = Field(min_length=1)
    architectures: list[str] = Field(min_length=1)


class TokenConfig(Strict):
    """Symbol inputs (a ``token`` column): a vocabulary fitted on the training split."""

    embedding_size: PositiveInt  # E: each token id -> a learned E-vector before the encoder
    min_count: PositiveInt  # rarer training tokens map to <unk>
    max_vocabulary: PositiveInt  # more distinct tokens than this after min_count is an error, not a silent cap


class GenerateConfig(Strict):
    """Text sampled from a trained language model, logged with its run."""

    samples: PositiveInt
    length: PositiveInt  # tokens per sample
    temperature: float = Field(gt=0.0)


class DatasetBase(Strict):
    # An entry in params.yaml states what differs from `defaults.datasets` there (merged in by Config);
    # `source` defaults to the entry's name.
    source: str  # a built-in source (`rnnlab sources`) or `imported` (written by `rnnlab import`)
    val_fraction: float = Field(gt=0.0, lt=1.0)  # drawn from the training part; never from test
    test_fraction: float | None = Field(gt=0.0, lt=1.0)  # only for sources without a split column
    max_sequences: PositiveInt | None  # of the training part, for smaller profiles (test stays whole); null = all
    max_length: PositiveInt | None  # keep each sequence's first N steps (language models: cut into N-step pieces)
    split_seed: Seed  # the splits belong to the dataset: fixed across training seeds
    tokens: TokenConfig | None  # required when the data has a `token` column
    train: dict[str, Any]  # this dataset's changes to the train section, e.g. {max_epochs: 20}; {} = none
    # The options of a generated source (GENERATOR_OPTIONS: copy_memory, adding, copy_bits,
    # associative_recall); absent for every other source.
    generator: dict[str, Any] | None = None
    # true for a dialogue (a ``speaker`` column: who says each utterance)
    speakers: bool = False
    # the mean of every N consecutive steps, before max_length: a long signal read whole in fewer steps
    # (numeric features, one label per sequence); absent = every step
    downsample: PositiveInt | None = None
    # every N consecutive steps as one step of N × the features (the samples side by side), after
    # downsample and before max_length: a long signal read whole in fewer steps, nothing averaged away
    frame: PositiveInt | None = None
    # each sequence's numeric features divided by their root mean square over the sequence, after frame,
    # and the log of it one more feature (f~level): for signals whose sizes span orders of magnitude
    sequence_scale: bool = False

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES and value != IMPORTED:
            raise ValueError(f"unknown source (allowed: {', '.join(SOURCES)}, {IMPORTED})")
        return value

    @model_validator(mode="after")
    def _speaker_sources(self) -> DatasetBase:
        if self.source in SPEAKER_SOURCES and not self.speakers:
            raise ValueError(f"source {self.source!r} writes dialogues (a speaker column): set speakers: true")
        if self.source not in SPEAKER_SOURCES and self.source != IMPORTED and self.speakers:
            raise ValueError(
                f"speakers: source {self.source!r} has no speaker column "
                f"(dialogue sources: {', '.join(SPEAKER_SOURCES)})"
            )
        return self

    @model_validator(mode="after")
    def _downsampled_sequences(self) -> DatasetBase:
        task = getattr(self, "task", None)
        for key, what in (("downsample", "averages"), ("frame", "groups"), ("sequence_scale", "scales")):
            if getattr(self, key) and self.speakers:
                raise ValueError(f"{key}: {what} steps, and a dialogue's steps are utterances by different speakers")
            if getattr(self, key) and (not KINDS[task].downsamples or self.tokens is not None):
                allowed = ", ".join(name for name, kind in KINDS.items() if kind.downsamples)
                raise ValueError(
                    f"{key}: {what} numeric steps of a sequence with one label ({allowed}); "
                    f"this dataset is {task}{' with tokens' if self.tokens is not None else ''}"
                )
        return self

    @model_validator(mode="after")
    def _generator_options(self) -> DatasetBase:
        options = GENERATOR_OPTIONS.get(self.source)
        if options is None:
            if self.generator is not None:
                raise ValueError(f"generator: source {self.source!r} is not generated; remove the generator key")
            return self
        if self.generator is None:
            raise ValueError(f"source {self.source!r} is generated: set generator ({', '.join(options.model_fields)})")
        try:
            options.model_validate(self.generator)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            if first["type"] == "extra_forbidden":
                raise ValueError(
                    f"generator: unknown key {key!r} (allowed: {', '.join(options.model_fields)})"
                ) from None
            if first["type"] == "missing":
                raise ValueError(f"generator: missing key {key!r}") from None
            if not key:  # a check across keys
                raise ValueError(f"generator: {first['msg'].removeprefix('Value error, ')}") from None
            raise ValueError(f"generator.{key} = {first.get('input')!r}: {first['msg']}") from None
        return self


class LanguageModelDataset(DatasetBase):
    """Next-token prediction over a ``token`` column; scored in bits per token."""

    task: Literal["language_model"]
    generate: GenerateConfig
    ngram_order: PositiveInt  # the n-gram reference measured on the same split


class Seq2SeqDataset(DatasetBase):
    """A symbol sequence out per sequence in: the ``label`` holds the output symbols, space-separated
    (e.g. "K AE T"); scored by exact-sequence accuracy and token error rate of the greedy output."""

    task: Literal["seq2seq"]
    target_embedding_size: PositiveInt  # the decoder's embedding of the previous output symbol

    @model_validator(mode="after")
    def _whole_sources(self) -> Seq2SeqDataset:
        if self.max_length is not None:
            raise ValueError(
                "max_length must be null for seq2seq: cutting the source would leave its label "
                "describing steps it no longer has"
            )
        return self


class ForecastDataset(DatasetBase):
    """One-step-ahead forecasting of a numeric column from the ``window`` steps before it."""

    task: Literal["forecast"]
    target: str  # the feature column to forecast
    window: PositiveInt  # steps of history per example
    ar_order: PositiveInt  # order p of the autoregressive baseline fit on the training part

    @model_validator(mode="after")
    def _windows_set_the_length(self) -> ForecastDataset:
        if self.max_length is not None:
            raise ValueError("max_length must be null for forecast: the window sets each example's length")
        return self


# Task kinds with keys of their own; every other kind's entry is a DatasetBase with its ``task``.
KIND_MODELS: dict[str, type[DatasetBase]] = {
    "language_model": LanguageModelDataset,
    "forecast": ForecastDataset,
    "seq2seq": Seq2SeqDataset,
}
DATASET_MODELS: dict[str, type[DatasetBase]] = {
    name: KIND_MODELS.get(name)
    or create_model(
        f"{name.title().replace('_', '')}Dataset",
        __base__=DatasetBase,
        __doc__=f"A dataset of task kind {name} (rnnlab.kinds.{name}), with no keys of its own.",
        task=(Literal[name], ...),
    )
    for name in KINDS
}
DatasetConfig = Annotated[Union[tuple(DATASET_MODELS.values())], Field(discriminator="task")]  # noqa: UP007


class TrainConfig(Strict):
    seeds: Annotated[list[Seed], AfterValidator(_distinct_seeds)] = Field(min_length=1)
    max_epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: float = Field(gt=0.0)
    weight_decay: float = Field(ge=0.0)
    gradient_clip: float = Field(gt=0.0)
    patience: PositiveInt  # epochs without val_loss improvement before early stopping
    bucket_width: PositiveInt  # batches per length bucket (1 = batches of near-equal length)
    num_threads: PositiveInt  # torch intra-op threads per training process
    deterministic: bool
    gradient_noise: float = Field(
        ge=0.0
    )  # η: Gaussian noise of variance η/(1 + t)^0.55 on every gradient (Neelakantan et al. 2015); 0 = none
    huber_delta: float | None = Field(
        gt=0.0
    )  # value targets: Huber loss with this δ, in the target's own units, instead of MSE; null = MSE
    # symbol inputs: E of each token's learned vector in this run (the tuning space of token data);
    # null: the dataset's tokens.embedding_size
    embedding_size: PositiveInt | None = None


def _no_tokens(dataset: str, where: str) -> str:
    return f"{where}: {dataset} reads numbers, not tokens; an embedding size applies to symbol inputs (tokens:)"


# What a dataset may change in the train section (seeds stay global: every comparison has the same).
OVERRIDABLE = {
    "max_epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "gradient_clip",
    "patience",
    "bucket_width",
    "num_threads",
    "gradient_noise",
    "huber_delta",
    "embedding_size",
}


class TrainerConfig(Strict):
    """Where training runs; passed to Lightning's Trainer as it is."""

    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"]
    devices: int | list[int] | Literal["auto"]  # -1: every GPU
    num_nodes: PositiveInt
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_find_unused_parameters_true", "fsdp"]
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "64-true"]

    @field_validator("devices")
    @classmethod
    def _devices_lightning_takes(cls, value: int | list[int] | str) -> int | list[int] | str:
        # Lightning refuses 0 and [] (no device), a negative count other than -1, and repeated GPU ids.
        allowed = "allowed: a count ≥ 1, -1 (every GPU), a non-empty list of distinct GPU ids ≥ 0, or auto"
        if isinstance(value, int) and value < 1 and value != -1:
            raise ValueError(f"not a device count Lightning takes ({allowed})")
        if isinstance(value, list) and (not value or min(value) < 0 or len(set(value)) < len(value)):
            raise ValueError(f"not a list of GPU ids Lightning takes ({allowed})")
        return value

    def spans_processes(self) -> bool:
        """A run on several devices or nodes is several processes (DDP): it is launched as its own
        process group, never trained inside a long-lived worker."""
        devices = self.devices
        several = (isinstance(devices, list) and len(devices) > 1) or (
            isinstance(devices, int) and (devices > 1 or devices == -1)
        )
        return several or self.num_nodes > 1

    @model_validator(mode="after")
    def _cpu_settings(self) -> TrainerConfig:
        if self.accelerator != "cpu":
            return self
        if isinstance(self.devices, list) or self.devices == -1:
            raise ConfigError(
                f"{PARAMS_FILE}: trainer.devices = {self.devices!r}: accelerator cpu takes a count of processes ≥ 1 "
                "(or auto); GPU ids and -1 (every GPU) need accelerator gpu"
            )
        if self.precision == "16-mixed":
            # Lightning does not fail here: it warns and trains in bf16-mixed, which is not what params.yaml says.
            raise ConfigError(
                f"{PARAMS_FILE}: trainer.precision = '16-mixed': fp16 mixed precision needs a GPU; "
                "with accelerator cpu set bf16-mixed (mixed precision on the CPU) or 32-true"
            )
        return self


class ExecutionConfig(Strict):
    """Where the pipeline's trainings run: each run a Prefect task on a Dask cluster whose worker
    processes import torch, Lightning and MLflow once and then train one run after another."""

    address: str | None  # null: a local cluster of `workers` processes; "tcp://host:8786": an existing Dask scheduler
    workers: PositiveInt  # local worker processes (× the runs' torch threads must fit the machine's cores)
    retries: int = Field(
        ge=0, le=10
    )  # a run whose worker died is started again this many times; then the stage fails naming it

    @field_validator("address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, _, port = value.partition("://")[2].rpartition(":") if "://" in value else value.rpartition(":")
        scheme = value.partition("://")[0] if "://" in value else "tcp"
        if scheme not in ("tcp", "tls") or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not a Dask scheduler address (tcp://host:port or tls://host:port)")
        return value


class ExperimentConfig(Strict):
    """A study run by `rnnlab experiment NAME`: every architecture on every dataset, once per seed,
    each training exactly as the pipeline's train stage does (same module, MLflow runs, checkpoints)."""

    datasets: list[str] = Field(min_length=1)
    architectures: list[str] = Field(min_length=1)
    seeds: Annotated[list[Seed], AfterValidator(_distinct_seeds)] = Field(min_length=1)
    # the study's own analysis (rnnlab.experiments.ANALYSES, checked when it runs); null: the task's test metrics
    analysis: str | None = None


class TuneConfig(Strict):
    """`rnnlab tune` (make tune): an Optuna study per (architecture, dataset) on the validation split,
    with the same budget for every architecture of a dataset: ``trials`` trials of at most
    ``max_epochs`` epochs each (by default the dataset's own cap, so tuned settings train as they were tuned)."""

    trials: PositiveInt
    # dataset -> trials for a dataset that gets another budget than `trials` (a dear one: fewer), still the same
    # for every architecture of it; reports/tuning.md states each dataset's
    dataset_trials: dict[str, PositiveInt] = {}
    max_epochs: (
        PositiveInt | None
    )  # per trial; null: the dataset's own cap in the pipeline (what the tuned settings then train with)
    patience: PositiveInt | None  # early stopping within a trial; null: the dataset's own
    seed: Seed  # the training seed of every trial
    sampler_seed: Seed  # TPE's
    startup_trials: int = Field(ge=0)  # random trials before TPE models the results
    warmup_epochs: int = Field(ge=0)  # the median pruner stops no trial before this many epochs
    # A validation split of fewer than small_validation sequences is too small to choose on: each trial
    # then trains on `repeats` splits (the pipeline's and repeats - 1 re-drawn from the training part)
    # and scores their mean. Forecasts split in time and always use the pipeline's split.
    repeats: PositiveInt
    small_validation: PositiveInt
    # per architecture entry: {setting: {low, high, log} | {choices: [...]}}, replacing the architecture's range for it
    space: dict[str, dict[str, SpaceEntry]]
    # profiles/tuned.yaml keeps a pair's best trial whose fit took at most max_cost × the fit of params.yaml's
    # own settings (the study's first trial, same machine and load); a dearer best is reported, not made the
    # default. null: the best trial whatever it costs. Applied to finished trials: no trial is rerun for it.
    max_cost: float | None = Field(1.25, gt=0)
    # ... or at most max_extra_s more seconds of fit than the untuned settings', where that is more: on a pair
    # whose runs fit in seconds a ratio limits nothing the pipeline's time notices (seconds per run: each seed pays it).
    max_extra_s: float = Field(0.0, ge=0)
    # The best trial within max_cost rests on one training seed, picked among many: before it replaces params.yaml's
    # settings, both are trained with confirm_seeds more seeds on the validation splits the trials were scored on,
    # and it is kept only where its mean over the 1 + confirm_seeds seeds beats theirs and, by the median over the
    # seeds, its fit is within the limit above. 0: kept unconfirmed.
    confirm_seeds: int = Field(2, ge=0)

    def trials_for(self, dataset: str) -> int:
        """The trials every architecture of ``dataset`` gets."""
        return self.dataset_trials.get(dataset, self.trials)


class TrackingConfig(Strict):
    tracking_uri: str | None  # null: sqlite database at mlflow/mlflow.db in the project
    artifact_root: str | None  # null: mlflow/artifacts in the project


class ScheduleConfig(Strict):
    cron: str  # when the retrain deployment runs (`make schedule`)
    interval_seconds: PositiveInt | None  # set: run every N seconds instead of the cron (tests, demos)
    promote_margin: float = Field(ge=0.0)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("must be a cron expression of 5 fields (minute hour day month weekday)")
        return value


class ServingConfig(Strict):
    """Bounds on one prediction request (``rnnlab predict``, ``mlflow models serve``), baked into each logged model."""

    max_rows: PositiveInt  # rows (time steps, all sequences together) per request
    max_sequences: PositiveInt  # distinct sequence_ids per request
    max_steps: PositiveInt  # steps of any one sequence


class DefaultsConfig(Strict):
    """Values written once: every dataset entry starts from ``datasets`` and states only what differs
    (mappings merge key by key). Architecture settings default per type, in rnnlab.architectures."""

    datasets: dict[str, Any]


DATASET_DEFAULTABLE = [k for k in DatasetBase.model_fields if k not in ("source", "generator")]


class Config(Strict):
    pipeline: PipelineConfig
    datasets: dict[str, DatasetConfig]
    defaults: DefaultsConfig = DefaultsConfig(datasets={})
    architectures: dict[str, Any]  # name -> its type's params model (rnnlab.architectures)
    train: TrainConfig
    trainer: TrainerConfig
    execution: ExecutionConfig
    experiments: dict[str, ExperimentConfig] = Field(default_factory=dict)  # studies: studies/<name>.yaml
    tune: TuneConfig
    # dataset -> architecture entry -> settings that differ for that pair (what `rnnlab tune` found best:
    # the architecture's own settings and the train section's); {} = every pair as its entries say
    tuned: dict[str, dict[str, dict[str, Any]]]
    tracking: TrackingConfig
    schedule: ScheduleConfig
    serving: ServingConfig
    profile: list[str]  # the profiles applied at load, in order (read_params); [] = params.yaml as written

    @model_validator(mode="before")
    @classmethod
    def _composed(cls, data: Any) -> Any:
        """Entries written as differences: a dataset entry on top of ``defaults.datasets`` (its name as
        its source), an architecture entry on top of its type's defaults (its name as its type), and an
        entry with ``base: NAME`` on top of entry NAME of its section. Mappings merge key by key."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        defaults = data.get("defaults", {}).get("datasets", {}) if isinstance(data.get("defaults"), dict) else {}
        defaults = defaults if isinstance(defaults, dict) else {}
        for key in defaults:  # checked here, before the entries take them
            if key not in DATASET_DEFAULTABLE:
                raise ConfigError(
                    f"{PARAMS_FILE}: defaults.datasets: unknown key {key!r} (allowed: {', '.join(DATASET_DEFAULTABLE)})"
                )
        if isinstance(data.get("datasets"), dict):
            data["datasets"] = _with_bases(data["datasets"], "datasets", lambda name: {"source": name, **defaults})
        if isinstance(data.get("architectures"), dict):
            data["architectures"] = _with_bases(data["architectures"], "architectures", lambda name: {"type": name})
        return data

    @field_validator("datasets", "experiments", mode="before")
    @classmethod
    def _names_follow_the_rule(cls, value: Any, info: ValidationInfo) -> Any:
        return _checked_names(value, info.field_name)

    @field_validator("architectures", mode="before")
    @classmethod
    def _typed_architectures(cls, value: Any) -> dict[str, BaseModel]:
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of name -> architecture settings")
        _checked_names(value, "architectures")
        typed = {}
        for name, settings in value.items():
            if not isinstance(settings, dict):
                raise ConfigError(f"{PARAMS_FILE}: architectures.{name} must be a mapping, got {settings!r}")
            settings = {"type": name, **settings}
            arch_type = settings["type"]
            if arch_type not in architectures.ARCHITECTURES:
                raise ConfigError(
                    f"{PARAMS_FILE}: architectures.{name}.type = {arch_type!r}: unknown architecture "
                    f"(allowed: {', '.join(architectures.ARCHITECTURES)})"
                )
            try:
                typed[name] = architectures.get(arch_type).params.model_validate(settings)
            except ValidationError as err:
                raise ConfigError(one_line(err, f"architectures.{name}", architectures.get(arch_type).params)) from None
        return typed

    @model_validator(mode="after")
    def _pipeline_refers_to_defined(self) -> Config:
        for kind in ("datasets", "architectures"):
            defined = getattr(self, kind)
            for name in getattr(self.pipeline, kind):
                if name not in defined:
                    raise ValueError(
                        f"pipeline.{kind} names {name!r}, which is not defined under {kind} (defined: "
                        f"{', '.join(defined)})"
                    )
        for study, spec in self.experiments.items():
            for kind in ("datasets", "architectures"):
                for name in getattr(spec, kind):
                    if name not in getattr(self, kind):
                        raise ValueError(
                            f"experiments.{study}.{kind} names {name!r}, which is not defined under {kind}"
                        )
            for a in spec.architectures:
                for ds in spec.datasets:
                    if why := self._why_not(a, ds):
                        raise ValueError(f"experiments.{study}: {a} cannot train on {ds}: {why}")
        for name, settings in self.datasets.items():
            unknown = set(settings.train) - OVERRIDABLE
            if unknown:
                raise ValueError(
                    f"datasets.{name}.train: unknown key {sorted(unknown)[0]!r} "
                    f"(allowed: {', '.join(sorted(OVERRIDABLE))})"
                )
            try:
                embedding = self.train_for(name).embedding_size
            except ValidationError as err:
                first = err.errors()[0]
                raise ValueError(
                    f"datasets.{name}.train.{first['loc'][0]} = {first.get('input')!r}: {first['msg']}"
                ) from None
            if embedding is not None and settings.tokens is None:
                raise ValueError(_no_tokens(name, "train.embedding_size"))
        for name, space in self.tune.space.items():
            if name not in self.architectures:
                raise ValueError(
                    f"tune.space names {name!r}, which is not defined under architectures (defined: "
                    f"{', '.join(self.architectures)})"
                )
            settings = architectures.get(self.architectures[name].type).params.model_fields
            for key in space:
                if key not in settings and key not in TRAIN_SPACE and key not in INPUT_KEYS or key == "type":
                    allowed = [k for k in settings if k != "type"] + list(TRAIN_SPACE) + sorted(INPUT_KEYS)
                    raise ValueError(
                        f"tune.space.{name}: {name} has no setting {key!r} to tune (allowed: {', '.join(allowed)})"
                    )
        for ds in self.tune.dataset_trials:
            if ds not in self.datasets:
                raise ValueError(f"tune.dataset_trials names dataset {ds!r}, which is not defined under datasets")
        for ds, entries in self.tuned.items():
            if ds not in self.datasets:
                raise ValueError(f"tuned names dataset {ds!r}, which is not defined under datasets")
            for name, settings in entries.items():
                if name not in self.architectures:
                    raise ValueError(f"tuned.{ds} names {name!r}, which is not defined under architectures")
                arch_fields = type(self.architectures[name]).model_fields
                unknown = [k for k in settings if (k not in arch_fields or k == "type") and k not in OVERRIDABLE]
                if unknown:
                    raise ValueError(
                        f"tuned.{ds}.{name}: unknown setting {unknown[0]!r} (allowed: the "
                        f"architecture's settings and {', '.join(sorted(OVERRIDABLE))})"
                    )
                try:
                    self.architecture(name, ds)
                    embedding = self.train_for(ds, name).embedding_size
                except ValidationError as err:
                    first = err.errors()[0]
                    raise ValueError(
                        f"tuned.{ds}.{name}.{first['loc'][0]} = {first.get('input')!r}: {first['msg']}"
                    ) from None
                if embedding is not None and self.datasets[ds].tokens is None:
                    raise ValueError(_no_tokens(ds, f"tuned.{ds}.{name}.embedding_size"))
        for ds in self.pipeline.datasets:
            if not any(self._why_not(a, ds) is None for a in self.pipeline.architectures):
                raise ValueError(
                    "pipeline: no architecture in pipeline.architectures supports task "
                    f"{self.datasets[ds].task!r} of dataset {ds!r}"
                )
        return self

    def train_for(self, dataset: str, architecture: str | None = None) -> TrainConfig:
        """The train section with this dataset's changes applied, then those tuned for ``architecture`` on it."""
        tuned = {k: v for k, v in self._tuned(architecture, dataset).items() if k in OVERRIDABLE}
        return TrainConfig.model_validate({**self.train.model_dump(), **self.dataset(dataset).train, **tuned})

    def _tuned(self, architecture: str | None, dataset: str) -> dict[str, Any]:
        return self.tuned.get(dataset, {}).get(architecture, {}) if architecture else {}

    def retuned_pairs(self) -> list[tuple[str, str]]:
        """(architecture, dataset) of each tuned entry that changes what its pair trains (an entry may
        repeat params.yaml's own settings); a token vector's size is compared as it is built."""
        plain = self.model_copy(update={"tuned": {}})

        def trained(config: Config, architecture: str, dataset: str) -> tuple[dict, dict]:
            train = config.train_for(dataset, architecture).model_dump()
            tokens = config.dataset(dataset).tokens
            if train["embedding_size"] is None and tokens is not None:
                train["embedding_size"] = tokens.embedding_size  # null: the dataset's own size
            return config.architecture(architecture, dataset).model_dump(), train

        return [
            (a, ds)
            for ds, entries in sorted(self.tuned.items())
            for a in sorted(entries)
            if trained(self, a, ds) != trained(plain, a, ds)
        ]

    def pairs(self) -> list[tuple[str, str]]:
        """Every compatible (architecture, dataset) of the pipeline: what `make pipeline` trains."""
        return [
            (a, ds)
            for ds in self.pipeline.datasets
            for a in self.pipeline.architectures
            if self._why_not(a, ds) is None
        ]

    def skipped(self) -> list[tuple[str, str, str]]:
        """(architecture, dataset, reason) for every pipeline pair that is not trained."""
        return [
            (a, ds, why)
            for ds in self.pipeline.datasets
            for a in self.pipeline.architectures
            if (why := self._why_not(a, ds))
        ]

    def architectures_for(self, dataset: str) -> list[str]:
        return [a for a, ds in self.pairs() if ds == dataset]

    def data_kind(self, dataset: str) -> str | None:
        """The kind of data a dataset holds, as architectures.incompatibility reads it."""
        settings = self.datasets[dataset]
        as_written = not (settings.downsample or settings.frame or settings.sequence_scale)  # one cell a step
        return (
            "dialogue"
            if settings.speakers
            else "table_questions"
            if settings.source in TABLE_SOURCES and as_written
            else None
        )

    def _why_not(self, architecture: str, dataset: str) -> str | None:
        return architectures.incompatibility(
            self.architectures[architecture], self.datasets[dataset].task, self.data_kind(dataset)
        )

    def architecture(self, name: str, dataset: str | None = None) -> BaseModel:
        """An architecture entry's settings; with ``dataset``, those tuned for it on that dataset applied."""
        if name not in self.architectures:
            raise ConfigError(
                f"architecture {name!r} is not defined in {PARAMS_FILE} (defined: {', '.join(self.architectures)})"
            )
        params = self.architectures[name]
        tuned = (
            {k: v for k, v in self._tuned(name, dataset).items() if k in type(params).model_fields} if dataset else {}
        )
        return type(params).model_validate({**params.model_dump(), **tuned}) if tuned else params

    def dataset(self, name: str) -> DatasetConfig:
        if name not in self.datasets:
            raise ConfigError(f"dataset {name!r} is not defined in {PARAMS_FILE} (defined: {', '.join(self.datasets)})")
        return self.datasets[name]


# What a multi-node launcher sets in each process it starts: torchrun (torch.distributed.elastic), SLURM's srun,
# LSF's jsrun, MPI, or a manual launch per node as Lightning documents it (NODE_RANK with MASTER_ADDR/PORT).
LAUNCHER_VARIABLES = (
    "TORCHELASTIC_RUN_ID",
    "WORLD_SIZE",
    "GROUP_RANK",
    "NODE_RANK",
    "SLURM_NTASKS",
    "LSB_JOBID",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
)


def launch_problem(trainer: TrainerConfig, environ: Mapping[str, str]) -> str | None:
    """One line if ``trainer`` cannot run in a process with environment ``environ``, else None.

    With num_nodes > 1, Lightning waits for the other nodes' processes to join; started by hand on one
    machine, none ever do and the run hangs. Which launcher started the process is known only from its
    environment, so this is checked where a run starts (``rnnlab train``, ``rnnlab check``), not in the schema.
    """
    if trainer.num_nodes == 1:
        return None
    launched = [name for name in LAUNCHER_VARIABLES if name in environ]
    # Lightning treats an interactive SLURM shell (srun --pty bash) as no launcher at all.
    if launched == ["SLURM_NTASKS"] and environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        launched = []
    if launched:
        return None
    return (
        f"{PARAMS_FILE}: trainer.num_nodes = {trainer.num_nodes}: no multi-node launcher started this process "
        f"(none of {', '.join(LAUNCHER_VARIABLES)} is set) and Lightning would wait forever for the other nodes; "
        f"start it with torchrun --nnodes {trainer.num_nodes} or srun, or set num_nodes: 1"
    )


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that holds params.yaml."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / PARAMS_FILE).is_file():
            return folder
    raise ConfigError(f"no {PARAMS_FILE} found in {start} or any folder above it")


def load_config(path: Path | str | None = None) -> Config:
    """params.yaml with its active profiles (``profile:``, ``profiles/*.yaml``) and the study files
    beside it (``studies/*.yaml``) composed in, validated."""
    path = Path(path) if path else project_root() / PARAMS_FILE
    return validated(*read_params(path))


def validated(raw: dict[str, Any], origins: dict[tuple[str, ...], str]) -> Config:
    """The composed mapping as a Config; a problem is one line naming the file that wrote the key."""
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        message = one_line(err, "", Config)
        origin = _origin(origins, err.errors()[0]["loc"])
        raise ConfigError(message.replace(f"{PARAMS_FILE}:", f"{origin}:", 1) if origin else message) from None


def _origin(origins: dict[tuple[str, ...], str], loc: tuple) -> str | None:
    """The file that wrote the value at ``loc`` (a pydantic location): the longest key of ``origins``
    that starts it; None for params.yaml."""
    raw_loc = list(loc)
    tagged = len(raw_loc) > 2 and raw_loc[0] == "datasets" and raw_loc[2] in DATASET_MODELS
    space_tag = len(raw_loc) > 4 and raw_loc[:2] == ["tune", "space"] and raw_loc[4] in ENTRY_TAGS
    path = tuple(str(p) for i, p in enumerate(raw_loc) if not (tagged and i == 2) and not (space_tag and i == 4))
    for n in range(len(path), 0, -1):
        if path[:n] in origins:
            return origins[path[:n]]
    return None


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file holding a mapping, or one line saying why not. (libyaml's parser: a command loads params.yaml,
    its profiles and studies many times, and the pure-Python one takes 6 times as long.)"""
    try:
        raw = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    return raw


def read_params(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """params.yaml as one mapping: its active profiles merged in, then every study file of ``studies/``
    beside it composed in; and which file wrote what: key path -> "profiles/<file>" or "studies/<file>"."""
    raw, profile_origins = with_profiles(read_yaml(Path(path)), Path(path).parent / PROFILES_DIR)
    raw, study_origins = with_studies(raw, Path(path).parent / STUDIES_DIR)
    return raw, {**profile_origins, **study_origins}


def available_profiles(folder: Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def profile_names(value: Any, folder: Path) -> list[str]:
    """params.yaml's ``profile`` as a list of names of files in ``folder``: null or [] for none, a name, or
    a list of names applied in order."""
    names = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise ConfigError(
            f"{PARAMS_FILE}: {PROFILE_KEY} = {value!r}: a profile name or a list of them, applied in order "
            f"(available: {', '.join(available_profiles(folder))})"
        )
    for name in names:
        check_name(name, f"{PARAMS_FILE}: {PROFILE_KEY}")
        if not (Path(folder) / f"{name}.yaml").is_file():
            shown = ", ".join(available_profiles(folder))
            raise ConfigError(f"{PARAMS_FILE}: {PROFILE_KEY}: no profile {name!r} (available: {shown})")
    return list(names)


def with_profiles(raw: dict[str, Any], folder: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """``raw`` with the profiles its ``profile`` key names (``folder``/NAME.yaml) merged in, in order, as
    rnnlab.params_file.merge does: mappings key by key, lists and values replaced, an empty mapping
    replaced; and the key path of every value a profile wrote -> "profiles/<file>" (the last one's)."""
    names = profile_names(raw.get(PROFILE_KEY), folder)
    origins: dict[tuple[str, ...], str] = {}
    composed = {**raw, PROFILE_KEY: names}
    for name in names:
        where = f"{PROFILES_DIR}/{name}.yaml"
        changes = read_yaml(Path(folder) / f"{name}.yaml")
        if PROFILE_KEY in changes:
            raise ConfigError(
                f"{where}: unknown key {PROFILE_KEY!r} (a profile does not name profiles; "
                f"{PARAMS_FILE}'s {PROFILE_KEY} lists them, in order)"
            )
        composed = merged(composed, changes)
        origins.update(dict.fromkeys(_written(changes), where))
    return composed, origins


def _written(changes: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The key paths whose values a profile's ``changes`` set (a non-empty mapping merges: its keys are)."""
    paths = []
    for key, value in changes.items():
        path = (*prefix, str(key))
        paths += _written(value, path) if isinstance(value, dict) and value else [path]
    return paths


def with_studies(raw: dict[str, Any], folder: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """``raw`` with the study files of ``folder`` composed in. A study file holds ``study`` (its
    datasets, architectures and seeds: experiments.<file name>) and the ``datasets`` and
    ``architectures`` entries only it uses; a name is defined once in the project. The pipeline's
    entries stay in params.yaml, where DVC tracks them."""
    origins: dict[tuple[str, ...], str] = {}
    if not folder.is_dir():
        return raw, origins
    sections = {s: dict(raw.get(s) or {}) if isinstance(raw.get(s) or {}, dict) else raw[s] for s in STUDY_SECTIONS}
    for file in sorted(folder.glob("*.yaml")):
        where = f"{STUDIES_DIR}/{file.name}"
        study = read_yaml(file)
        unknown = [key for key in study if key not in STUDY_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(STUDY_KEYS)})")
        if "study" not in study:
            raise ConfigError(f"{where}: missing key 'study' (the study's datasets, architectures and seeds)")
        parts = {
            "datasets": study.get("datasets") or {},
            "architectures": study.get("architectures") or {},
            "experiments": {file.stem: study["study"]},
        }
        for section, entries in parts.items():
            if not isinstance(entries, dict) or not isinstance(sections[section], dict):
                raise ConfigError(f"{where}: {section} must be a mapping of name -> settings")
            for name, entry in entries.items():
                if name in sections[section]:
                    also = origins.get((section, name), PARAMS_FILE)
                    raise ConfigError(f"{where}: {section}.{name} is defined twice (also in {also})")
                sections[section][name] = entry
                origins[(section, name)] = where
    for section in ("datasets", "architectures"):  # params.yaml stands on its own: DVC tracks it alone
        own = raw.get(section) if isinstance(raw.get(section), dict) else {}
        for name, entry in own.items():
            base = entry.get("base") if isinstance(entry, dict) else None
            if isinstance(base, str) and (section, base) in origins:
                raise ConfigError(
                    f"{PARAMS_FILE}: {section}.{name}.base = {base!r}: an entry of {origins[(section, base)]}; "
                    f"an entry of {PARAMS_FILE} starts from one of {PARAMS_FILE}, where DVC tracks them"
                )
    pipeline = raw.get("pipeline") if isinstance(raw.get("pipeline"), dict) else {}
    for section in ("datasets", "architectures"):
        for name in pipeline.get(section) or []:
            if (section, name) in origins:
                raise ConfigError(
                    f"{origins[(section, name)]}: defines {section}.{name}, which pipeline.{section} names: "
                    f"the pipeline's entries live in {PARAMS_FILE}, where DVC tracks them"
                )
    return {**raw, **sections}, origins


def one_line(err: ValidationError, prefix: str, model: type[BaseModel]) -> str:
    """The first pydantic error as 'params.yaml: key = value: problem (allowed: ...)'."""
    first = err.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):  # raised by our own validators, already one line
        return str(cause)
    raw_loc = list(first["loc"])
    tagged = (
        len(raw_loc) > 2 and raw_loc[0] == "datasets" and raw_loc[2] in DATASET_MODELS
    )  # the union's tag, not a key
    space_tag = len(raw_loc) > 4 and raw_loc[:2] == ["tune", "space"] and raw_loc[4] in ENTRY_TAGS  # SpaceEntry's tag
    loc = [str(p) for i, p in enumerate(raw_loc) if not (tagged and i == 2) and not (space_tag and i == 4)]
    key = ".".join(([prefix] if prefix else []) + loc)
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = (
            list(DATASET_MODELS[raw_loc[2]].model_fields)
            if tagged and len(raw_loc) == 4
            else _fields_at(model, first["loc"][:-1])
        )
        return f"{PARAMS_FILE}: unknown key {key!r} (allowed: {', '.join(allowed)}){more}"
    if first["type"] == "missing":
        return f"{PARAMS_FILE}: missing key {key!r}{more}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = first.get("ctx", {}).get("tag", "")
        return f"{PARAMS_FILE}: {key}.task = {tag!r}: unknown task (allowed: {', '.join(DATASET_MODELS)}){more}"
    if not loc:
        return f"{PARAMS_FILE}: {message}{more}"
    if isinstance(first.get("input"), dict):  # a check of a whole entry: name the entry, not its contents
        return f"{PARAMS_FILE}: {key}: {message}{more}"
    return f"{PARAMS_FILE}: {key} = {first.get('input')!r}: {message}{more}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model found by walking ``loc`` from ``model`` (dict keys skipped)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            break
        field = current.model_fields.get(str(part))
        if field is None:
            continue
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = args[-1] if args else annotation  # dict[str, X] -> X
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
