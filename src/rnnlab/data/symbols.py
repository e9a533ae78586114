"""The reserved symbols of every vocabulary prepare builds, and the target of a step with nothing to
predict. Data decide them; the models that embed and decode tokens read them from here.

Inputs: id 0 pads a batch (masked by the driver, never read), id 1 is any token outside the vocabulary.
Seq2seq targets: the same two, then the start symbol the decoder is fed first and the end symbol it
must write last.
"""

from __future__ import annotations

PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
INPUT_SPECIALS = ("<pad>", "<unk>")  # ids 0 and 1 of every input vocabulary
TARGET_SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")  # ids 0..3 of every seq2seq target vocabulary
IGNORE = -100  # the target of a padded step (torch's cross_entropy ignore_index)
