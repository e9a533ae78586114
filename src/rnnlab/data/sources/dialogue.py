"""Conversations: utterance features, who says each utterance (``speaker``), an emotion per utterance.

- ``conversations`` (generated; architectures.md §9 d): P parties, each with a hidden mood
  (negative, neutral, positive). An utterance's features are its kind's prototype plus Gaussian
  noise: a *mood-setting* utterance (a party's first, then with probability ``mood_shift``) shows
  the speaker's new mood; a *filler* shows nothing about it; an *insult* (probability ``insult``)
  makes the next speaker, if another party, negative at that turn — seen only in the context.
  The label of an utterance is its speaker's mood after it. So a filler's label is the mood the
  speaker last showed, many turns of others ago: what a per-party state remembers and a model of
  the utterance alone cannot know. Speakers are drawn uniformly at every turn.
- ``read_feature_pickle``: the feature files that the public DialogueRNN code reads
  (declare-lab/conv-emotion: ``IEMOCAP_features_raw.pkl``, ``MELD_features_raw.pkl``), for a
  user who has them: ``rnnlab import IEMOCAP_features_raw.pkl --name iemocap --task label_steps --target label``.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import collections
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from rnnlab.data.table import LABEL, SEQUENCE_ID, SPEAKER, SPLIT, STEP, table_from_sequences
from rnnlab.errors import DataError

MOODS = ("negative", "neutral", "positive")
NEGATIVE = 0
# conv-emotion's label indices (its loaders' comments): IEMOCAP's six classes and MELD's seven emotions.
IEMOCAP_LABELS = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
MELD_LABELS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
# The globals a conv-emotion feature pickle may name: containers, numbers, strings and numpy arrays, as numpy
# 1.x (numpy.core) and 2.x (numpy._core) write them, at every pickle protocol. Python 2's names
# (__builtin__.set) are read as Python 3's. Anything else (os.system, builtins.eval, a class) is refused.
CONTAINERS = ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float", "complex")
NUMPY_FUNCTIONS = {"multiarray": ("_reconstruct", "scalar"), "numeric": ("_frombuffer",)}  # numpy._core.<module>.<name>
PICKLE_GLOBALS = {
    **{("builtins", name): getattr(builtins, name) for name in CONTAINERS},
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): codecs.encode,  # bytes in a protocol 0–2 pickle
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{
        (f"{package}.{module}", name): getattr(getattr(np._core, module), name)
        for package in ("numpy.core", "numpy._core")
        for module, names in NUMPY_FUNCTIONS.items()
        for name in names
    },
}


class ConversationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_parties: int = Field(ge=1)  # P per dialogue, uniform in [min_parties, max_parties]
    max_parties: int = Field(ge=1)
    min_length: PositiveInt  # utterances per dialogue, uniform in [min_length, max_length]
    max_length: PositiveInt
    features: int = Field(ge=2)  # D of an utterance's feature vector
    fillers: PositiveInt  # kinds of mood-free utterance
    mood_shift: float = Field(ge=0.0, le=1.0)  # chance that a later utterance sets a new mood
    insult: float = Field(ge=0.0, le=1.0)  # chance that an utterance makes the next speaker negative
    noise: float = Field(ge=0.0)  # σ of the Gaussian noise on each prototype
    dialogues: PositiveInt
    seed: int

    @model_validator(mode="after")
    def _ranges(self) -> ConversationOptions:
        if self.min_parties > self.max_parties or self.min_length > self.max_length:
            raise ValueError(
                "need min_parties ≤ max_parties and min_length ≤ max_length, got parties "
                f"{self.min_parties}–{self.max_parties}, length {self.min_length}–{self.max_length}"
            )
        return self


def conversations(options: ConversationOptions) -> pd.DataFrame:
    """Generated multi-party dialogues, each utterance labelled with its speaker's hidden mood.

    Ids ``dialogue-<index>``; per utterance: features ``u_0``..``u_<D-1>``, a ``speaker`` (party
    0..P-1) and a ``label`` (the speaker's mood). No split column (prepare draws test).
    """
    o = options
    rng = np.random.default_rng(o.seed)
    prototypes = rng.normal(size=(len(MOODS) + o.fillers + 1, o.features))  # moods, fillers, the insult
    insult_kind = len(prototypes) - 1
    sequences, labels, speakers, ids = [], [], [], []
    for d in range(o.dialogues):
        parties = int(rng.integers(o.min_parties, o.max_parties + 1))
        length = int(rng.integers(o.min_length, o.max_length + 1))
        mood = rng.integers(0, len(MOODS), size=parties)
        shown = np.zeros(parties, dtype=bool)
        kinds, who, label = [], [], []
        insulted_by = None  # the party whose last utterance was an insult
        for _ in range(length):
            s = int(rng.integers(0, parties))
            if insulted_by is not None and insulted_by != s:
                mood[s] = NEGATIVE  # the insult lands on the next speaker
            if not shown[s] or rng.random() < o.mood_shift:
                mood[s] = mood[s] if not shown[s] else rng.integers(0, len(MOODS))
                shown[s] = True
                kind = int(mood[s])  # the utterance shows the speaker's mood
            elif rng.random() < o.insult:
                kind = insult_kind
            else:
                kind = len(MOODS) + int(rng.integers(0, o.fillers))
            insulted_by = s if kind == insult_kind else None
            kinds.append(kind)
            who.append(s)
            label.append(MOODS[mood[s]])
        sequences.append(prototypes[kinds] + o.noise * rng.normal(size=(length, o.features)))
        labels.append(np.asarray(label, dtype=object))
        speakers.append(np.asarray(who))
        ids.append(f"dialogue-{d:06d}")
    table = table_from_sequences(
        sequences, labels, None, ids, [f"u_{j}" for j in range(o.features)], "source conversations"
    )
    table.insert(
        table.columns.get_loc(LABEL), SPEAKER, np.concatenate(speakers)
    )  # rows are in sequence, then step order
    return table


def read_feature_pickle(path: Path) -> pd.DataFrame:
    """conv-emotion's feature pickle -> a dialogue table (text features, one row per utterance).

    IEMOCAP (9 items): videoIDs, videoSpeakers ("M"/"F"), videoLabels (0–5), videoText (100-d),
    videoAudio, videoVisual, videoSentence, trainVid, testVid. MELD (9 items): videoIDs,
    videoSpeakers (9-way one-hot), videoLabels (7 emotions), videoText, videoAudio, videoSentence,
    trainVid, testVid, videoSentiment. The two are told apart by their speakers.
    A pickle can run any code as it loads; this one is read with ``PICKLE_GLOBALS`` only.
    """
    try:
        with open(path, "rb") as handle:
            items = _FeatureUnpickler(handle, path).load()
    except DataError:
        raise
    except Exception as err:
        raise DataError(
            f"{path}: not a readable pickle: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        ) from None
    if not isinstance(items, (tuple, list)) or len(items) != 9:
        raise DataError(
            f"{path}: expected conv-emotion's 9-item feature pickle (IEMOCAP or MELD), got {type(items).__name__} of "
            f"{len(items) if hasattr(items, '__len__') else '?'} items"
        )
    speakers, labels, text = items[1], items[2], items[3]
    iemocap = _is_iemocap(items)
    train, test = (items[7], items[8]) if iemocap else (items[6], items[7])
    names = IEMOCAP_LABELS if iemocap else MELD_LABELS
    rows = []
    for split, videos in (("train", train), ("test", test)):
        for vid in videos:
            features = np.asarray(text[vid], dtype=np.float64)  # (T, D)
            who = [str(s) if isinstance(s, str) else str(int(np.argmax(s))) for s in speakers[vid]]
            if not (len(features) == len(who) == len(labels[vid])):
                raise DataError(
                    f"{path}: dialogue {vid!r} has {len(features)} feature rows, {len(who)} speakers and "
                    f"{len(labels[vid])} labels"
                )
            frame = pd.DataFrame(features, columns=[f"u_{j}" for j in range(features.shape[1])])
            frame.insert(0, STEP, np.arange(len(frame)))
            frame.insert(0, SEQUENCE_ID, str(vid))
            frame[SPEAKER] = who
            frame[LABEL] = [names[int(y)] for y in labels[vid]]
            frame[SPLIT] = split
            rows.append(frame)
    if not rows:
        raise DataError(f"{path}: no dialogues in trainVid or testVid")
    return pd.concat(rows, ignore_index=True)


class _FeatureUnpickler(pickle.Unpickler):
    """Python 2's latin-1 strings read as str; a global outside PICKLE_GLOBALS stops the load before it is called."""

    def __init__(self, handle, path: Path) -> None:
        super().__init__(handle, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str):
        key = _compat_pickle.NAME_MAPPING.get((module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        if key not in PICKLE_GLOBALS:
            raise DataError(
                f"{self.path}: refused to load {module}.{name}: a conv-emotion feature pickle holds only containers, "
                f"numbers, strings and numpy arrays (loading anything else could run code)"
            )
        return PICKLE_GLOBALS[key]


def _is_iemocap(items) -> bool:
    """IEMOCAP names its speakers "M"/"F"; MELD gives one-hot vectors."""
    first = next(iter(items[1].values()))
    return isinstance(first[0], str)
