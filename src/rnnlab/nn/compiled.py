"""Compiled backend: the cell's recurrence compiled with ``torch.compile``.

The driver's Python loop stays (the input projection is already one matrix product); each step's
gate arithmetic becomes a generated kernel instead of a dozen small ops. Compiled steps are cached per cell object outside the module (a weak map), so
models stay picklable and their state_dict is unchanged.
"""

from __future__ import annotations

import weakref

import torch

_STEPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def step_for(cell):
    """The compiled ``cell.recurrence`` (built on first use).

    Static shapes: a batch of another size recompiles once (a handful per training run), where
    ``dynamic=True`` measured slower per step than not compiling at all.
    """
    step = _STEPS.get(cell)
    if step is None:
        step = torch.compile(cell.recurrence, dynamic=False)
        _STEPS[cell] = step
    return step
