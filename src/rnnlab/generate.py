"""Sampling text from a trained language model: x_{t+1} ~ softmax(o_t / temperature)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.data.symbols import PAD_ID, UNK_ID


@torch.no_grad()
def generate_samples(model: nn.Module, vocabulary: list[str], prompts: list[Tensor], settings, seed: int) -> list[str]:
    """Continue each prompt (token ids) by ``settings.length`` sampled tokens; returns the texts with
    the prompt marked off by ``⟫``. The whole prefix is re-read at every step: simple, and the cost
    (length² steps) is small at the lengths logged here."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    texts = []
    for prompt in prompts:
        tokens = prompt.clone()  # (T,)
        for _ in range(settings.length):
            logits = model(tokens.unsqueeze(0), torch.tensor([len(tokens)])).prediction[0, -1]  # (V,) at the last step
            logits[[PAD_ID, UNK_ID]] = -torch.inf  # write real tokens only
            probabilities = torch.softmax(logits / settings.temperature, dim=-1)
            tokens = torch.cat([tokens, torch.multinomial(probabilities, 1, generator=generator)])
        words = [vocabulary[i] for i in tokens.tolist()]
        joiner = "" if all(len(w) == 1 for w in vocabulary[2:]) else " "  # characters join directly, words with spaces
        texts.append(joiner.join(words[: len(prompt)]) + " ⟫ " + joiner.join(words[len(prompt) :]))
    return texts
