"""Forward+backward throughput of rnnlab's recurrent paths against raw torch.nn, measured in one run.

Cases: B=64, D=12, H=128 at T=100 and T=1000 (every sequence full length, so packing does no
extra work). Each candidate is timed interleaved with raw ``torch.nn.LSTM`` (median of several
repetitions after warm-up) and reported as a ratio to it, so machine noise cancels.

Memory and pondering cells (NTM, ACT) at the default pipeline's sizes (params.yaml ``ntm``, ``act``;
japanese_vowels' batches: B=32, D=12, T up to 29) are timed against a fused ``torch.nn.LSTM`` that
does as many multiply-adds per step (formulas in :func:`ntm_macs`, :func:`act_macs`,
:func:`lstm_macs`). Results go to reports/benchmarks.md. Run with ``make bench`` (about ten
minutes on 2 cores, most of it compiling).

    python benchmarks/recurrent_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm import tqdm

from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.ntm import NTMCell

B, D, H = 64, 12, 128
REPORT = Path(__file__).resolve().parents[1] / "reports" / "benchmarks.md"

# What the issue measured on this kind of 2-core machine, as ratios to fused torch.nn.LSTM.
YARDSTICKS = {"plain Python-loop LSTM": 6.0, "TorchScript LSTM": 12.0, "torch.compile LSTM": 1.75}


@dataclass
class Candidate:
    name: str
    path: str
    build: Callable[[int], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]
    slow_at_long_T: bool = False  # measured once, without warm-up, at T=1000


def raw_torch(module_cls, packed: bool):
    def build(T):
        module = module_cls(D, H, batch_first=True)

        def run(x, lengths):
            if packed:  # what a variable-length batch costs in plain PyTorch: pack -> kernel -> pad
                out, _ = module(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
                return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
            return module(x)[0]

        return run

    return build


def rnnlab_stack(make_cell, backend: str):
    def build(T):
        stack = RecurrentStack(make_cell, D, backend=backend)
        return lambda x, lengths: stack(x, lengths, final_state=False)[0]  # as the encoders call it: outputs only

    return build


CANDIDATES = [
    Candidate("torch.nn.LSTM, padded tensor", "raw torch", raw_torch(nn.LSTM, packed=False)),
    Candidate("rnnlab LSTM", "fused (training path)", rnnlab_stack(lambda d: LSTMCell(d, H), "fused")),
    Candidate("rnnlab LSTM", "compiled", rnnlab_stack(lambda d: LSTMCell(d, H), "compiled")),
    Candidate("rnnlab LSTM", "reference (Python loop)", rnnlab_stack(lambda d: LSTMCell(d, H), "reference")),
    Candidate("torch.nn.GRU, padded tensor", "raw torch", raw_torch(nn.GRU, packed=False)),
    Candidate("torch.nn.GRU, packed", "raw torch", raw_torch(nn.GRU, packed=True), slow_at_long_T=True),
    Candidate(
        "rnnlab GRU, pytorch convention",
        "fused (training path)",
        rnnlab_stack(lambda d: GRUCell(d, H, "pytorch"), "fused"),
    ),
    Candidate("rnnlab GRU, course convention", "compiled", rnnlab_stack(lambda d: GRUCell(d, H, "course"), "compiled")),
    Candidate(
        "rnnlab GRU, course convention",
        "reference (Python loop)",
        rnnlab_stack(lambda d: GRUCell(d, H, "course"), "reference"),
    ),
    Candidate("torch.nn.RNN, padded tensor", "raw torch", raw_torch(nn.RNN, packed=False)),
    Candidate("torch.nn.RNN, packed", "raw torch", raw_torch(nn.RNN, packed=True), slow_at_long_T=True),
    Candidate("rnnlab Elman RNN", "fused (training path)", rnnlab_stack(lambda d: ElmanCell(d, H), "fused")),
]


# --- memory and pondering cells against an LSTM of equal multiply-adds per step ---------------------

SMALL_B, SMALL_D = 32, 12  # japanese_vowels: the default batch of 32, 12 LPC coefficients
# (threads, T): japanese_vowels' longest sequence, and 100 steps as basic_motions' and shakespeare's
# pieces; the NTM and ACT studies' datasets train on 1 thread (params.yaml), the default is 2
MATCHED_PLAN = ((1, 29), (1, 100), (2, 29))
NTM_SIZES = dict(
    controller_size=64, memory_rows=32, memory_width=16, read_heads=1, write_heads=1, shift_range=1
)  # params.yaml ntm
ACT_SIZES = dict(
    hidden_size=128, time_penalty=0.001, epsilon=0.01, max_steps=10, halting_bias=1.0
)  # params.yaml act (Elman core)


def lstm_macs(D: int, H: int) -> int:
    """Multiply-adds per step and sequence of an LSTM: four gates, each W·[x_t; h_{t-1}] = 4H(D + H)."""
    return 4 * H * (D + H)


def ntm_macs(
    D: int,
    controller_size: int,
    memory_rows: int,
    memory_width: int,
    read_heads: int,
    write_heads: int,
    shift_range: int,
) -> int:
    """Multiply-adds per step and sequence of the NTM cell (H controller, N×M memory, R read and W write heads,
    S shifts):

    controller 4H(D + R·M + H) + head parameters H·(R·A + W·(A + 2M)), A = M + 3 + S
    + addressing (R + W)·(2NM + SN) (cosine: k·M(i) and ‖M(i)‖; the shift's S terms per row)
    + write 3WNM (erase weights w eᵀ, erase M ⊙ (1 − w eᵀ), add w aᵀ) + read RNM.
    Element-wise activations, softmaxes and the sharpening power are not counted (nor are an LSTM's).
    """
    H, N, M, R, W = controller_size, memory_rows, memory_width, read_heads, write_heads
    S = 2 * shift_range + 1
    A = M + 3 + S
    return (
        4 * H * (D + R * M + H)
        + H * (R * A + W * (A + 2 * M))
        + (R + W) * (2 * N * M + S * N)
        + 3 * W * N * M
        + R * N * M
    )


def act_macs(D: int, H: int, ponder_steps: float) -> float:
    """Multiply-adds per input step and sequence of ACT around an Elman cell: N̄ ponder steps, each
    the cell on [x_t; δ] (D + 1 inputs) and the halting unit, N̄·((D + 1)H + H² + H)."""
    return ponder_steps * ((D + 1) * H + H * H + H)


def equal_lstm_hidden(macs: float, D: int) -> int:
    """The LSTM hidden size whose 4H(D + H) is nearest ``macs``."""
    return round((-D + math.sqrt(D * D + macs)) / 2)


@dataclass
class Matched:
    name: str
    path: str
    make_cell: Callable[[int], nn.Module]
    backend: str
    macs: Callable[[], float]  # per step and sequence


def mean_ponder_steps(T: int) -> float:
    """N̄ of a fresh ACT cell on a random batch (the halting bias +1 gives σ(1) ≈ 0.73 per step: two steps)."""
    torch.manual_seed(0)
    stack = RecurrentStack(
        lambda d: ACTCell(
            ElmanCell(d + 1, ACT_SIZES["hidden_size"]),
            *[ACT_SIZES[k] for k in ("time_penalty", "epsilon", "max_steps", "halting_bias")],
        ),
        SMALL_D,
        backend="reference",
    )
    with torch.no_grad():
        _, final = stack(torch.randn(SMALL_B, T, SMALL_D), torch.full((SMALL_B,), T, dtype=torch.int64))
    return float(final.steps.mean()) / T


def make_act(d: int) -> ACTCell:
    return ACTCell(
        ElmanCell(d + 1, ACT_SIZES["hidden_size"]),
        *[ACT_SIZES[k] for k in ("time_penalty", "epsilon", "max_steps", "halting_bias")],
    )


MATCHED = [
    Matched(
        "NTM (H=64, N×M=32×16, 1R+1W)",
        "reference (Python loop)",
        lambda d: NTMCell(d, **NTM_SIZES),
        "reference",
        lambda: ntm_macs(SMALL_D, **NTM_SIZES),
    ),
    Matched(
        "NTM (H=64, N×M=32×16, 1R+1W)",
        "compiled",
        lambda d: NTMCell(d, **NTM_SIZES),
        "compiled",
        lambda: ntm_macs(SMALL_D, **NTM_SIZES),
    ),
    Matched(
        "ACT around Elman (H=128, M=10)",
        "reference (Python loop)",
        make_act,
        "reference",
        lambda: act_macs(SMALL_D, ACT_SIZES["hidden_size"], mean_ponder_steps(29)),
    ),
    Matched(
        "ACT around Elman (H=128, M=10)",
        "compiled",
        make_act,
        "compiled",
        lambda: act_macs(SMALL_D, ACT_SIZES["hidden_size"], mean_ponder_steps(29)),
    ),
]


def measure_matched(case: Matched, T: int, repeats: int) -> tuple[float, float, int, float]:
    """(cell seconds, equal-FLOPs LSTM seconds, LSTM hidden size, cell MACs), interleaved medians."""
    torch.manual_seed(0)
    macs = case.macs()
    hidden = equal_lstm_hidden(macs, SMALL_D)
    stack = RecurrentStack(case.make_cell, SMALL_D, backend=case.backend)
    lstm = nn.LSTM(SMALL_D, hidden, batch_first=True)

    def reference(x, lengths):
        out, _ = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    x = torch.randn(SMALL_B, T, SMALL_D, requires_grad=True)
    lengths = torch.full((SMALL_B,), T, dtype=torch.int64)
    run = lambda x, lengths: stack(x, lengths)[0]  # noqa: E731
    for _ in range(3):  # compilation, allocator, oneDNN primitive cache
        time_once(run, x, lengths), time_once(reference, x, lengths)
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(time_once(run, x, lengths))
        theirs.append(time_once(reference, x, lengths))
    return statistics.median(mine), statistics.median(theirs), hidden, macs


def time_once(run, x, lengths) -> float:
    started = time.perf_counter()
    out = run(x, lengths)
    out.sum().backward()
    return time.perf_counter() - started


def measure(candidate: Candidate, reference, T: int, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """(candidate seconds, reference seconds): medians of interleaved repetitions."""
    x = torch.randn(B, T, D, requires_grad=True)
    lengths = torch.full((B,), T, dtype=torch.int64)
    run = candidate.build(T)
    for _ in range(warmup):  # compilation, allocator, oneDNN primitive cache
        time_once(run, x, lengths), time_once(reference, x, lengths)
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(time_once(run, x, lengths))
        theirs.append(time_once(reference, x, lengths))
    return statistics.median(mine), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run of the script)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rows = []
    plan = [(T, c) for T in (100, 1000) for c in CANDIDATES]
    for T, candidate in tqdm(plan, desc="benchmark", unit="case"):
        repeats = (3 if args.quick else 15) if T == 100 else (1 if args.quick else 5)
        reference = raw_torch(nn.LSTM, packed=True)(T)
        if T > 100 and candidate.slow_at_long_T:
            seconds, ref_seconds = measure(candidate, reference, T, repeats=1, warmup=0)
        else:
            seconds, ref_seconds = measure(candidate, reference, T, repeats)
        rows.append((T, candidate, seconds, ref_seconds))
    matched = []
    for threads, T, case in tqdm(
        [(n, T, c) for n, T in MATCHED_PLAN for c in MATCHED], desc="equal-FLOPs cases", unit="case"
    ):
        torch.set_num_threads(threads)
        matched.append((threads, T, case, *measure_matched(case, T, repeats=3 if args.quick else 15)))
    torch.set_num_threads(2)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(render(rows, args.quick) + render_matched(matched))
    print(REPORT.read_text())


def render(rows, quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Forward + backward, B={B}, D={D}, H={H}, float32, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}; written by "
        "`make bench` (benchmarks/recurrent_throughput.py)" + (" — quick run, few repetitions" if quick else "") + ".",
        "Ratio = time / time of raw `torch.nn.LSTM` on the same batch as a variable-length batch is "
        "run in plain PyTorch (pack → kernel → pad), measured interleaved in the same run (lower is "
        "faster; 1.00 = as fast as raw torch). The *padded tensor* rows skip packing, which is only "
        "correct when every sequence has the same length. Rows marked *packed* at T=1000 are a single "
        "measurement: torch's packed GRU/RNN backward on the CPU grows quadratically with T, which is "
        "why rnnlab's fused path runs those cells unpacked on the CPU (src/rnnlab/nn/fused.py).",
        "",
        "| T | model | path | ms / batch | sequences / s | steps / s | ratio to nn.LSTM |",
        "|---|---|---|---|---|---|---|",
    ]
    for T, c, seconds, ref_seconds in rows:
        lines.append(
            f"| {T} | {c.name} | {c.path} | {seconds * 1e3:.1f} | {B / seconds:,.0f} | {B * T / seconds:,.0f} | "
            f"{seconds / ref_seconds:.2f} |"
        )
    lines += [
        "",
        "Yardsticks measured earlier on this kind of machine (ratio to fused torch.nn.LSTM): "
        + ", ".join(f"{k} {v:.2f}×" for k, v in YARDSTICKS.items())
        + ". Targets: training path ≤ 1.05×; compiled path ≤ 2× of fused.",
        "",
    ]
    return "\n".join(lines)


def render_matched(rows) -> str:
    lines = [
        "## Memory and pondering cells against an LSTM of equal multiply-adds",
        "",
        f"Forward + backward, B={SMALL_B}, D={SMALL_D}, every sequence full length, the default pipeline's `ntm` and "
        "`act` settings (params.yaml). Ratio = time / time of a fused `torch.nn.LSTM` (pack → kernel → pad) whose "
        "hidden size H' makes its multiply-adds per step and sequence, 4H'(D + H'), equal to the cell's, measured "
        "interleaved in the same run. Cell multiply-adds per step: NTM "
        "4H(D + R·M + H) + H·(R·A + W·(A + 2M)) + (R + W)·(2NM + SN) + 3WNM + RNM with A = M + 3 + S; ACT around an "
        "Elman cell N̄·((D + 1)H + H² + H), N̄ the mean ponder steps of the fresh cell on the batch (element-wise "
        "activations are counted for neither side). The *reference* rows are the readable Python loop; *compiled* "
        "is the `backend: compiled` path (src/rnnlab/nn/compiled.py): the NTM four time steps per compiled call, "
        "ACT one compiled call per two ponder steps (its loop's length depends on the data). Target: ≤ 1.5×.",
        "",
        "| threads | T | model | path | cell MACs / step | equal-FLOPs "
        "LSTM H' | ms / batch | ratio to equal-FLOPs nn.LSTM |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for threads, T, case, seconds, ref_seconds, hidden, macs in rows:
        lines.append(
            f"| {threads} | {T} | {case.name} | {case.path} | {macs:,.0f} | {hidden} | {seconds * 1e3:.1f} | "
            f"{seconds / ref_seconds:.2f} |"
        )
    return "\n".join(lines + [""])


if __name__ == "__main__":
    main()
