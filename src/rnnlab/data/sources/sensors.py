"""Sensors: PLAID appliance currents and BasicMotions smartwatch motion (UEA archive, via sktime).

Both come from sktime's offline copy of the UEA/UCR archive, with the archive's official split.

- ``plaid``: Plug Load Appliance Identification Dataset (PLAID1, summer 2013): the current drawn by
  one appliance, a window around switch-on, 100–1344 steps, one feature ``current``. Target: the
  appliance type, ``appliance_0`` … ``appliance_10`` (the archive's classes: 0 air conditioner,
  1 compact fluorescent lamp, 2 fan, 3 fridge, 4 hairdryer, 5 heater, 6 incandescent light bulb,
  7 laptop, 8 microwave, 9 vacuum, 10 washing machine). Split: 537 train / 537 test.
- ``basic_motions``: four students wearing a smartwatch, 10 s at 10 Hz (100 steps), 6 features.
  Target: the activity (badminton, running, standing, walking). Split: 40 train / 40 test.
"""

from __future__ import annotations

import pandas as pd

from rnnlab.data.table import table_from_sequences

PLAID_FEATURES = ["current"]
BASIC_MOTIONS_FEATURES = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def plaid() -> pd.DataFrame:
    """PLAID: appliance current signatures, 1 feature, 11 appliance classes, 537/537 split.

    Data: one current waveform per appliance switch-on, 100–1344 steps (variable length).
    Target: ``appliance_<k>``, k = 0..10 (see the module docstring for the names).
    Split: the archive's official 537 train / 537 test.
    """
    from sktime.datasets import load_plaid

    return _uea_table(load_plaid, lambda target: f"appliance_{target}", PLAID_FEATURES, "source plaid")


def basic_motions() -> pd.DataFrame:
    """BasicMotions: smartwatch accelerometer + gyroscope, 100 steps x 6, 4 activities, 40/40.

    Data: 100 steps (10 s at 10 Hz) of a 3-axis accelerometer and a 3-axis gyroscope. The column
    order is the archive's (dimensions 0–5). Neither sktime nor the archive's ``.ts`` header names
    the dimensions; the header lists "3D accelerometer and a 3D gyroscope" in that order, and the
    data agree: dimensions 3–5 average ~0 in every class, as angular rates do, while 0–2 carry
    large non-zero means during running and badminton.
    Target: the activity (``badminton``, ``running``, ``standing``, ``walking``).
    Split: the archive's official 40 train / 40 test (10 per class in each).
    """
    from sktime.datasets import load_basic_motions

    return _uea_table(load_basic_motions, str, BASIC_MOTIONS_FEATURES, "source basic_motions")


def _uea_table(loader, label_of, feature_names: list[str], where: str) -> pd.DataFrame:
    """Both official splits of one sktime UEA loader as one table, ids ``<split>-<index>``."""
    sequences, labels, splits, ids = [], [], [], []
    for split in ("train", "test"):
        frames, targets = loader(split=split, return_type="df-list")
        for i, (frame, target) in enumerate(zip(frames, targets)):
            sequences.append(frame.to_numpy(dtype=float))
            labels.append(label_of(target))
            splits.append(split)
            ids.append(f"{split}-{i:04d}")
    return table_from_sequences(sequences, labels, splits, ids, feature_names, where)
