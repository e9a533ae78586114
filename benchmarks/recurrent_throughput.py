"""Forward+backward throughput of rnnlab's recurrent paths against raw torch.nn, measured in one run.

Cases: B=64, D=12, H=128 at T=100 and T=1000 (every sequence full length, so packing does no
extra work). Each candidate is timed interleaved with raw ``torch.nn.LSTM`` (median of several
repetitions after warm-up) and reported as a ratio to it, so machine noise cancels. Results go to
reports/benchmarks.md. Run with ``make bench`` (a few minutes on 2 cores).

    python benchmarks/recurrent_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm import tqdm

from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack

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
        return lambda x, lengths: stack(x, lengths)[0]

    return build


CANDIDATES = [
    Candidate("torch.nn.LSTM, padded tensor", "raw torch", raw_torch(nn.LSTM, packed=False)),
    Candidate("rnnlab LSTM", "fused (training path)", rnnlab_stack(lambda d: LSTMCell(d, H), "fused")),
    Candidate("rnnlab LSTM", "compiled", rnnlab_stack(lambda d: LSTMCell(d, H), "compiled")),
    Candidate("rnnlab LSTM", "reference (Python loop)", rnnlab_stack(lambda d: LSTMCell(d, H), "reference")),
    Candidate("torch.nn.GRU, padded tensor", "raw torch", raw_torch(nn.GRU, packed=False)),
    Candidate("torch.nn.GRU, packed", "raw torch", raw_torch(nn.GRU, packed=True), slow_at_long_T=True),
    Candidate("rnnlab GRU, pytorch convention", "fused (training path)", rnnlab_stack(lambda d: GRUCell(d, H, "pytorch"), "fused")),
    Candidate("rnnlab GRU, course convention", "compiled", rnnlab_stack(lambda d: GRUCell(d, H, "course"), "compiled")),
    Candidate("rnnlab GRU, course convention", "reference (Python loop)", rnnlab_stack(lambda d: GRUCell(d, H, "course"), "reference")),
    Candidate("torch.nn.RNN, padded tensor", "raw torch", raw_torch(nn.RNN, packed=False)),
    Candidate("torch.nn.RNN, packed", "raw torch", raw_torch(nn.RNN, packed=True), slow_at_long_T=True),
    Candidate("rnnlab Elman RNN", "fused (training path)", rnnlab_stack(lambda d: ElmanCell(d, H), "fused")),
]


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
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(render(rows, args.quick))
    print(REPORT.read_text())


def render(rows, quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Forward + backward, B={B}, D={D}, H={H}, float32, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}; written by "
        "`make bench` (benchmarks/recurrent_throughput.py)" + (" — quick run, few repetitions" if quick else "") + ".",
        "Ratio = time / time of raw `torch.nn.LSTM` on the same batch as a variable-length batch is run in plain "
        "PyTorch (pack → kernel → pad), measured interleaved in the same run (lower is faster; 1.00 = as fast as raw torch). "
        "The *padded tensor* rows skip packing, which is only correct when every sequence has the same length. Rows marked *packed* at T=1000 are a single measurement: "
        "torch's packed GRU/RNN backward on the CPU grows quadratically with T, which is why rnnlab's fused path runs "
        "those cells unpacked on the CPU (src/rnnlab/nn/fused.py).",
        "",
        "| T | model | path | ms / batch | sequences / s | steps / s | ratio to nn.LSTM |",
        "|---|---|---|---|---|---|---|",
    ]
    for T, c, seconds, ref_seconds in rows:
        lines.append(f"| {T} | {c.name} | {c.path} | {seconds * 1e3:.1f} | {B / seconds:,.0f} | {B * T / seconds:,.0f} | {seconds / ref_seconds:.2f} |")
    lines += [
        "",
        "Yardsticks measured earlier on this kind of machine (ratio to fused torch.nn.LSTM): "
        + ", ".join(f"{k} {v:.2f}×" for k, v in YARDSTICKS.items())
        + ". Targets: training path ≤ 1.05×; compiled path ≤ 2× of fused.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
