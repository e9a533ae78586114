"""Compiled backend: the cell's time step compiled with ``torch.compile``.

The driver's Python loop stays; each step's gate arithmetic becomes one generated kernel instead
of a dozen small ops. Compiled steps are cached per cell object outside the module (a weak map), so
models stay picklable and their state_dict is unchanged.
"""

from __future__ import annotations

import weakref

import torch

_STEPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def step_for(cell):
    """The compiled ``cell.forward`` (built on first use)."""
    step = _STEPS.get(cell)
    if step is None:
        step = torch.compile(cell.forward, dynamic=True)
        _STEPS[cell] = step
    return step
