"""Recurrent cells and the machinery that runs them over sequences.

Shape letters (B batch, T time steps, D input features, H hidden units, G gate width, S layers,
K directions, …) follow the one legend of the whole package, in the docstring of :mod:`rnnlab`.

A *cell* computes one time step: ``forward(x_t, state) -> (y_t, state)`` and builds its own
initial state (``initial_state``). States are NamedTuples passed in and out, never stored on a
module. One driver (:func:`rnnlab.nn.sequence.run_cell`) runs any cell over a padded batch with
lengths; one stacker (:class:`rnnlab.nn.stack.RecurrentStack`) adds layers, directions, dropout
and the choice of execution backend.
"""

from rnnlab.nn.cell import RecurrentCell
from rnnlab.nn.elman import ElmanCell, ElmanState
from rnnlab.nn.gru import GRUCell, GRUState
from rnnlab.nn.lstm import LSTMCell, LSTMState
from rnnlab.nn.sequence import run_cell
from rnnlab.nn.stack import RecurrentStack

__all__ = [
    "RecurrentCell",
    "ElmanCell",
    "ElmanState",
    "GRUCell",
    "GRUState",
    "LSTMCell",
    "LSTMState",
    "RecurrentStack",
    "run_cell",
]
