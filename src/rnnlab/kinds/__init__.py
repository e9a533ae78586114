"""The task kinds: one module each (rnnlab.kinds.<name>), registered here by name.

    classify        one label per sequence        logits (B, C)     accuracy, macro- and weighted F1
    label_steps     one label per step            logits (B, T, C)  accuracy, macro- and weighted F1 over real steps
    label_bits      a bit vector per answer step  logits (B, T, b)  bit error rate, exact-step accuracy (σ per bit, BCE)
    language_model  the next token at every step  logits (B, T, V)  bits per token, next-token accuracy
    forecast        the next value of a series    value (B,)        MAE, RMSE (original units)
    regress         one number per sequence       value (B,)        MSE, MAE, RMSE (original units)
    seq2seq         a symbol sequence per sequence logits (B, L, V)  exact-sequence accuracy, token error rate
    tags            a set of tags per sequence    logits (B, C)     micro F1, exact-set accuracy, Hamming loss

Adding a kind: a module with a ``TaskKind`` subclass and its ``KIND`` (see rnnlab.kinds.base for what it
may say and do), one entry in ``KINDS`` below, and the directions of any new metric in
``GREATER_IS_BETTER``.
"""

from __future__ import annotations

from rnnlab.kinds import classify, forecast, label_bits, label_steps, language_model, regress, seq2seq, tags
from rnnlab.kinds.base import TaskKind

KINDS: dict[str, TaskKind] = {
    m.KIND.name: m.KIND for m in (classify, label_steps, label_bits, regress, language_model, forecast, seq2seq, tags)
}

# Which way every metric a task reports improves: the one place that knows it (selection, champions,
# the leaderboard's arrows and the verdict against a reference all read it here).
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "macro_f1": True,
    "weighted_f1": True,
    "micro_f1": True,
    "set_accuracy": True,
    "direction_accuracy": True,
    "exact_accuracy": True,
    "sequence_accuracy": True,
    "step_accuracy": True,
    "bits_per_token": False,
    "mae": False,
    "rmse": False,
    "mse": False,
    "token_error_rate": False,
    "bit_error_rate": False,
    "bit_errors_per_step": False,
    "hamming_loss": False,
    "loss": False,
}


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` (a name as the tasks report it, with or without a
    ``test_`` / ``best_val_`` / ``val_`` prefix) is better."""
    name = metric.removeprefix("test_").removeprefix("best_val_").removeprefix("val_")
    if name not in GREATER_IS_BETTER:
        raise KeyError(f"metric {metric!r}: its direction is not known (known: {', '.join(GREATER_IS_BETTER)})")
    return GREATER_IS_BETTER[name]
