"""GPU check of every architecture's module: the same numbers on CUDA as on the CPU, and its speed.

Needs only PyTorch (no MLflow, DVC or Prefect), so it runs on a bare GPU machine:

    python benchmarks/gpu_cells.py [--out reports/gpu_cells.md]

1. Parity: each module is built once with a fixed seed in float64, run forward and backward on a
   padded batch of variable lengths on the CPU and on the GPU; the largest difference of the
   outputs and of the input gradients is reported (device bugs — a tensor made on the CPU inside a
   step, a mask on the wrong device — fail here, not in the CPU test suite).
2. Speed: float32 forward + backward, sequences per second on the GPU and on this machine's CPU
   (all its cores), B = 64, D = 12, H = 128, T = 100 (dialogues: T = 40).
3. The NTM copy step (B = 16 and 256, T = 21, the copy study's 128 × 20 memory): training
   iterations per second, reference loop and compiled step.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.models.dialogue import DialogueRNN
from rnnlab.models.encoder import AttentiveEncoder, RecurrentEncoder
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.depth_gated import DepthGatedLSTMCell
from rnnlab.nn.dilated import DilatedRecurrence
from rnnlab.nn.ntm import NTMCell

D, H, P = 12, 128, 3
REPORT = Path(__file__).resolve().parents[1] / "reports" / "gpu_cells.md"


def stack(
    make_cell: Callable[[int], nn.Module], layers: int = 2, bidirectional: bool = True, backend: str = "reference"
) -> RecurrentEncoder:
    return RecurrentEncoder(RecurrentStack(make_cell, D, layers, bidirectional, 0.0, backend))


def modules() -> dict[str, Callable[[], nn.Module]]:
    """name -> builder of a module taking (x (B, T, D'), lengths) and returning something with .steps or .prediction."""
    return {
        "rnn (Elman), 2 layers, bidirectional": lambda: stack(lambda d: ElmanCell(d, H, "tanh")),
        "lstm, reference loop": lambda: stack(lambda d: LSTMCell(d, H)),
        "lstm, fused kernel": lambda: stack(lambda d: LSTMCell(d, H), backend="fused"),
        "gru (course), reference": lambda: stack(lambda d: GRUCell(d, H, "course")),
        "gru (pytorch), fused": lambda: stack(lambda d: GRUCell(d, H, "pytorch"), backend="fused"),
        "dglstm, depth 3": lambda: RecurrentEncoder(
            RecurrentStack(lambda d: DepthGatedLSTMCell(d, H, 3), D, 1, True, 0.0, "reference")
        ),
        "dilated gru 1,2,4,8": lambda: RecurrentEncoder(
            DilatedRecurrence(lambda d: GRUCell(d, H, "pytorch"), D, [1, 2, 4, 8], 0.0, "reference")
        ),
        "ntm 128 x 20": lambda: stack(lambda d: NTMCell(d, 100, 128, 20), layers=1, bidirectional=False),
        "act around gru": lambda: stack(
            lambda d: ACTCell(GRUCell(d + 1, H, "pytorch"), 0.01, 0.01, 10, 1.0), layers=1, bidirectional=False
        ),
        "attention (additive) encoder": lambda: AttentiveEncoder(
            RecurrentStack(lambda d: GRUCell(d, H, "pytorch"), D, 1, True, 0.0, "reference"), "additive", 64
        ),
        "seq2seq, Luong general": lambda: Seq2Seq(
            AttentiveEncoder(
                RecurrentStack(lambda d: GRUCell(d, 64, "pytorch"), D, 1, True, 0.0, "reference"), "general", 64
            ),
            12,
            32,
            1.5,
        ),
        "dialogue_rnn, bidirectional + attention": lambda: DialogueRNN(D + P, P, 64, 64, 64, 64, "active", True, True),
    }


def batch(name: str, B: int, T: int, device, dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    lengths[0] = T
    x = torch.randn(B, T, D, generator=g, dtype=dtype)
    if name.startswith("dialogue"):
        x = torch.cat([x, F.one_hot(torch.randint(0, P, (B, T), generator=g), P).to(dtype)], -1)
    x[torch.arange(T)[None, :] >= lengths[:, None]] = 0
    target = torch.randint(4, 12, (B, T + 1), generator=g) if name.startswith("seq2seq") else None
    return x.to(device), lengths, None if target is None else target.to(device)


def output_of(module: nn.Module, x, lengths, target) -> torch.Tensor:
    out = module(x, lengths, target) if target is not None else module(x, lengths)
    return out.prediction if hasattr(out, "prediction") else out.steps


def parity(name: str, build) -> tuple[float, float]:
    torch.manual_seed(0)
    module = build().double()
    results = []
    for device in ("cpu", "cuda"):
        module = module.to(device)
        x, lengths, target = batch(name, 6, 17, device, torch.float64)
        x.requires_grad_()
        y = output_of(module, x, lengths, target)
        y.square().sum().backward()
        results.append((y.detach().cpu(), x.grad.cpu()))
    (y_cpu, g_cpu), (y_gpu, g_gpu) = results
    return float((y_cpu - y_gpu).abs().max()), float((g_cpu - g_gpu).abs().max())


def speed(name: str, build, device: str, repeats: int = 5) -> float:
    torch.manual_seed(0)
    module = build().to(device)
    T = 40 if name.startswith("dialogue") else 100
    x, lengths, target = batch(name, 64, T, device, torch.float32)

    def once():
        output_of(module, x, lengths, target).square().mean().backward()

    once()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    if device == "cuda":
        torch.cuda.synchronize()
    return 64 * repeats / (time.perf_counter() - start)


def ntm_copy_speed(device: str, B: int, compiled: bool, seconds: float = 12.0) -> float:
    from rnnlab.nn.compiled import step_for
    from rnnlab.nn.sequence import run_cell

    torch.manual_seed(0)
    cell, head = NTMCell(9, 100, 128, 20).to(device), nn.Linear(120, 8).to(device)
    optimizer = torch.optim.Adam([*cell.parameters(), *head.parameters()], 1e-3)
    step = step_for(cell) if compiled else None
    L = 10
    lengths = torch.full((B,), 2 * L + 1)

    def iteration():
        bits = torch.randint(0, 2, (B, L, 8), device=device).float()
        x = torch.zeros(B, 2 * L + 1, 9, device=device)
        x[:, :L, :8], x[:, L, 8] = bits, 1
        y, _ = run_cell(cell, x, lengths, step=step)
        loss = F.binary_cross_entropy_with_logits(head(y[:, L + 1 :]), bits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        iteration()  # warm-up (and compilation)
    if device == "cuda":
        torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        iteration()
        n += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument(
        "--only", default="", help="check only the modules whose name contains this (and skip the NTM copy timing)"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no GPU: this check compares the GPU with the CPU")
    lines = [
        "# GPU check of the recurrent modules",
        "",
        f"`python benchmarks/gpu_cells.py` on {torch.cuda.get_device_name()} (torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads).",
        "",
        "| module | max abs diff, output (float64) | max abs diff, input "
        "gradient | GPU sequences/s | CPU sequences/s | GPU / CPU |",
        "|---|---|---|---|---|---|",
    ]
    for name, build in modules().items():
        if args.only not in name:
            continue
        try:
            out_diff, grad_diff = parity(name, build)
            gpu, cpu = speed(name, build, "cuda"), speed(name, build, "cpu", repeats=2)
            lines.append(f"| {name} | {out_diff:.1e} | {grad_diff:.1e} | {gpu:,.0f} | {cpu:,.0f} | {gpu / cpu:.1f} |")
        except Exception as err:  # a failure is a finding: report it and go on
            lines.append(f"| {name} | failed: {type(err).__name__}: {str(err).splitlines()[0][:120]} | | | | |")
        print(lines[-1], flush=True)
    if args.only:
        print("\n".join(lines))
        return
    lines += [
        "",
        "NTM copy training step (T = 21, memory 128 × 20, Adam), iterations per second:",
        "",
        "| batch | device | step | iterations/s |",
        "|---|---|---|---|",
    ]
    for B in (16, 256):
        for device in ("cpu", "cuda"):
            for compiled in (False, True):
                try:
                    rate = f"{ntm_copy_speed(device, B, compiled):.1f}"
                except Exception as err:
                    rate = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:100]}"
                lines.append(f"| {B} | {device} | {'compiled' if compiled else 'reference'} | {rate} |")
                print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
