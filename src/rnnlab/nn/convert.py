"""The one mapping between rnnlab's Keras-named weights and PyTorch's and Keras's layouts.

rnnlab (per cell)          torch.nn.RNN/LSTM/GRU (per layer k, direction)     Keras
-----------------          ------------------------------------------------   -----------------------
kernel (D, G)              weight_ih_l{k}[_reverse] (G, D)  = kernelᵀ          kernel (D, G)
recurrent_kernel (H, G)    weight_hh_l{k}[_reverse] (G, H)  = recurrent_kernelᵀ recurrent_kernel (H, G)
bias (G,)                  bias_ih_l{k} (G,)  (+ bias_hh_l{k}, added)           bias (G,) or (2, G)
recurrent_bias (G,)        bias_hh_l{k}  (pytorch-convention GRU only)

Gate orders: LSTM i,f,g,o everywhere (Keras calls g "c"); GRU r,z,n in rnnlab and torch, z,r,h in
Keras. Where two biases meet one (LSTM, Elman, course GRU), rnnlab's bias is b_ih + b_hh and the
exported b_hh is zero — the same function of the input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import RecurrentCell
from rnnlab.nn.elman import ElmanCell
from rnnlab.nn.gru import GRUCell
from rnnlab.nn.lstm import LSTMCell

TORCH_WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def to_torch_weights(cell: RecurrentCell) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of the fused torch kernel that equals ``cell``.

    Differentiable views of the cell's parameters, so the fused path trains the same weights.
    """
    if cell.fused_mode is None:
        raise ValueError(f"{type(cell).__name__} ({_describe(cell)}) has no torch.nn equivalent")
    bias_hh = getattr(cell, "recurrent_bias", None)
    if bias_hh is None:
        bias_hh = torch.zeros_like(cell.bias)
    return cell.kernel.t(), cell.recurrent_kernel.t(), cell.bias, bias_hh


@torch.no_grad()
def load_torch_weights(
    cell: RecurrentCell, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor
) -> None:
    """Copy one torch layer-direction's weights into ``cell`` (exactly representable cells only)."""
    if cell.fused_mode is None:
        raise ValueError(
            f"{type(cell).__name__} ({_describe(cell)}) cannot hold torch.nn weights exactly; "
            "use convert_gru_convention for the course GRU"
        )
    _check_shape(cell.kernel, weight_ih.t(), "weight_ih")
    _check_shape(cell.recurrent_kernel, weight_hh.t(), "weight_hh")
    cell.kernel.copy_(weight_ih.t())
    cell.recurrent_kernel.copy_(weight_hh.t())
    if hasattr(cell, "recurrent_bias"):
        cell.bias.copy_(bias_ih)
        cell.recurrent_bias.copy_(bias_hh)
    else:
        cell.bias.copy_(bias_ih + bias_hh)


def torch_layer_suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


def load_torch_module(stack, module: nn.RNNBase) -> None:
    """Copy every layer and direction of a torch.nn.RNN/LSTM/GRU into a RecurrentStack."""
    for (layer, direction), cell in stack.indexed_cells():
        suffix = torch_layer_suffix(layer, direction)
        load_torch_weights(cell, *(getattr(module, name + suffix) for name in TORCH_WEIGHT_NAMES))


def to_torch_state_dict(stack) -> dict[str, Tensor]:
    """State dict for a torch.nn module of the same shape as ``stack``."""
    out = {}
    for (layer, direction), cell in stack.indexed_cells():
        suffix = torch_layer_suffix(layer, direction)
        for name, tensor in zip(TORCH_WEIGHT_NAMES, to_torch_weights(cell)):
            out[name + suffix] = tensor
    return out


# --- GRU conventions ------------------------------------------------------------------------


@torch.no_grad()
def convert_gru_convention(cell: GRUCell) -> GRUCell:
    """A GRU of the other convention computing the same function, where one exists.

    The update-gate convention is exact always: z_course = 1 - z_pytorch = σ(-a), so the z
    blocks are negated. The reset position is exact only when the candidate's recurrent
    weights W_hn are diagonal and b_hn = 0 (then W(r*h) = r*(W h)); otherwise ValueError.
    """
    H = cell.hidden_size
    target = "pytorch" if cell.convention == "course" else "course"
    other = GRUCell(cell.input_size, H, convention=target).to(cell.kernel)
    w_hn = cell.recurrent_kernel[:, 2 * H :]
    off_diagonal = w_hn - torch.diag(torch.diagonal(w_hn))
    if off_diagonal.abs().max() > 0:
        raise ValueError("convert_gru_convention: W_hn must be diagonal for the two reset positions to agree")
    z = slice(H, 2 * H)
    other.kernel.copy_(cell.kernel)
    other.recurrent_kernel.copy_(cell.recurrent_kernel)
    other.kernel[:, z].neg_()
    other.recurrent_kernel[:, z].neg_()
    if target == "pytorch":
        other.bias.copy_(cell.bias)
        other.bias[z].neg_()
        other.recurrent_bias.zero_()
    else:
        b_hn = cell.recurrent_bias[2 * H :]
        if b_hn.abs().max() > 0:
            raise ValueError("convert_gru_convention: b_hn must be zero for the course convention to hold it")
        other.bias.copy_(cell.bias + cell.recurrent_bias)
        other.bias[z].neg_()
    return other


# --- Keras layouts ----------------------------------------------------------------------------


def _keras_gru_to_rzn(t: Tensor, H: int) -> Tensor:
    """Reorder the last axis from Keras's z, r, h blocks to r, z, n."""
    z, r, h = t[..., :H], t[..., H : 2 * H], t[..., 2 * H :]
    return torch.cat([r, z, h], dim=-1)


@torch.no_grad()
def load_keras_weights(cell: RecurrentCell, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor) -> None:
    """Copy Keras SimpleRNN/LSTM/GRU weights (``layer.get_weights()`` order) into ``cell``.

    GRU: ``reset_after=True`` (bias (2, 3H)) needs a pytorch-convention cell; ``reset_after=False``
    (bias (3H,)) needs a course-convention cell, and its update gate is flipped (Keras keeps the
    old state with z, the course takes the new one).
    """
    kernel, recurrent_kernel, bias = (
        torch.as_tensor(a, dtype=cell.kernel.dtype) for a in (kernel, recurrent_kernel, bias)
    )
    if isinstance(cell, (ElmanCell, LSTMCell)):
        cell.kernel.copy_(kernel)
        cell.recurrent_kernel.copy_(recurrent_kernel)
        cell.bias.copy_(bias)
        return
    if not isinstance(cell, GRUCell):
        raise ValueError(f"no Keras layout is defined for {type(cell).__name__}")
    H = cell.hidden_size
    reset_after = bias.dim() == 2
    if reset_after != (cell.convention == "pytorch"):
        raise ValueError(
            f"Keras GRU with reset_after={reset_after} needs convention="
            f"{'pytorch' if reset_after else 'course'}, the cell has {cell.convention!r}"
        )
    cell.kernel.copy_(_keras_gru_to_rzn(kernel, H))
    cell.recurrent_kernel.copy_(_keras_gru_to_rzn(recurrent_kernel, H))
    if reset_after:
        cell.bias.copy_(_keras_gru_to_rzn(bias[0], H))
        cell.recurrent_bias.copy_(_keras_gru_to_rzn(bias[1], H))
    else:
        cell.bias.copy_(_keras_gru_to_rzn(bias, H))
        z = slice(H, 2 * H)
        for t in (cell.kernel, cell.recurrent_kernel, cell.bias):
            t[..., z].neg_()


def _check_shape(ours: Tensor, theirs: Tensor, name: str) -> None:
    if ours.shape != theirs.shape:
        raise ValueError(f"{name}: expected transposed shape {tuple(ours.shape)}, got {tuple(theirs.shape)}")


def _describe(cell: RecurrentCell) -> str:
    convention = getattr(cell, "convention", None)
    return f"convention={convention!r}" if convention else f"fused_mode={cell.fused_mode!r}"
