"""Speech: JapaneseVowels (UEA archive, via sktime's offline copy).

Nine male speakers uttering /ae/; each frame holds 12 LPC cepstrum coefficients; 7–29 frames per
utterance. Target: the speaker. Official split: 270 train / 370 test.
"""

from __future__ import annotations

import pandas as pd

from rnnlab.data.table import table_from_sequences

JAPANESE_VOWELS_FEATURES = [f"lpc_{i}" for i in range(12)]


def japanese_vowels() -> pd.DataFrame:
    """JapaneseVowels (UEA): 640 utterances of /ae/, 12 LPC coefficients per frame, 9 speakers, official split 270/370.

    Read from sktime's offline copy (``load_japanese_vowels``); labels ``speaker_<k>``, ids ``<split>-<index>``.
    """
    from sktime.datasets import load_japanese_vowels

    sequences, labels, splits, ids = [], [], [], []
    for split in ("train", "test"):
        frames, targets = load_japanese_vowels(split=split, return_type="df-list")
        for i, (frame, target) in enumerate(zip(frames, targets)):
            sequences.append(frame.to_numpy(dtype=float))
            labels.append(f"speaker_{target}")
            splits.append(split)
            ids.append(f"{split}-{i:04d}")
    return table_from_sequences(sequences, labels, splits, ids, JAPANESE_VOWELS_FEATURES, "source japanese_vowels")
