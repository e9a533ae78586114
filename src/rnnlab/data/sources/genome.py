"""Genome / protein: antimicrobial peptides (AMP) versus UniProt peptides (modlAMP).

modlAMP's ``load_AMPvsUniProt``: 5200 peptides, the 2600 antimicrobial peptides of the APD3
database (January 2016) and 2600 random UniProt sequences of length 10–50, written in the 20
standard one-letter amino-acid codes. Each peptide is one sequence of tokens, one amino-acid
letter per step: 7–174 steps (AMP 7–174, UniProt 10–50, so any peptide longer than 50 is an AMP).
Target: ``AMP`` or ``UniProt`` (the dataset's own ``target_names``). No split column: prepare
draws a stratified test split.

Caveat: the set holds repeats. Only 4642 of the 5200 sequences are distinct (222 sequences occur
2–25 times, 780 rows in all, 690 of them UniProt), and 22 sequences carry both labels; a random
split puts some peptides on both sides.
"""

from __future__ import annotations

import pandas as pd

from rnnlab.data.table import table_from_tokens


def amp_peptides() -> pd.DataFrame:
    """Antimicrobial peptides vs UniProt: 5200 amino-acid sequences, AMP / UniProt, no split.

    Data: one token per amino acid (20 letters), 7–174 steps. Target: ``AMP`` / ``UniProt``,
    2600 each. Split: none (prepare draws a stratified one). Ids: ``peptide-<index>``.
    """
    from modlamp.datasets import load_AMPvsUniProt

    data = load_AMPvsUniProt()
    labels = [data.target_names[int(target)] for target in data.target]
    ids = [f"peptide-{i:04d}" for i in range(len(data.sequences))]
    return table_from_tokens([str(s) for s in data.sequences], labels, None, ids, "source amp_peptides")
