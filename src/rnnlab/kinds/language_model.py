"""language_model: the next token at every step of a ``token`` column. Logits (B, T, V); bits per token
and next-token accuracy; long texts cut into pieces; an n-gram model with Kneser-Ney smoothing as
reference; text sampled from the trained model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnlab.data.table import SEQUENCE_ID, STEP, TOKEN
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind

PROMPT_TOKENS = 16  # the sampled text continues the first tokens of validation sequences


def language_model_metrics(logits: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    import torch  # imported when a language model is scored, not when the configuration loads
    import torch.nn.functional as F

    nats = F.cross_entropy(torch.from_numpy(logits).double(), torch.from_numpy(target), reduction="mean").item()
    return {"bits_per_token": nats / math.log(2), "accuracy": float((logits.argmax(-1) == target).mean())}


class LanguageModel(TaskKind):
    name = "language_model"
    target = "token"
    per_step = True
    causal = True
    selection_metric = "bits_per_token"
    label_mode = None
    label_column = TOKEN
    head, loss, flatten = "step_classifier", "step_cross_entropy", "per_step"

    def check_columns(self, raw, settings, where):
        if TOKEN not in raw.columns:
            raise DataError(
                f"{where}: task language_model needs a 'token' column (columns: {', '.join(map(str, raw.columns))})"
            )

    def split(self, raw, settings, where):
        parts, baselines = super().split(raw, settings, where)
        # a one-token piece has no next token to predict
        return {k: v[v.groupby(SEQUENCE_ID)[STEP].transform("size") > 1] for k, v in parts.items()}, baselines

    def cut(self, df, max_length):
        """N-step pieces of every text."""
        n = max_length
        return df.assign(
            **{SEQUENCE_ID: df[SEQUENCE_ID].astype(str) + "#" + (df[STEP] // n).astype(str), STEP: df[STEP] % n}
        )

    def size_facts(self, settings):
        return [] if settings.max_length is None else [f"pieces of {settings.max_length} steps"]

    def fit_target(self, train, splits, settings, fitted, where):
        return {"classes": fitted["vocabulary"]}

    def encode(self, inputs, labels, meta):
        """Reads tokens 0..T-2 and predicts tokens 1..T-1."""
        return [x[:-1] for x in inputs], [x[1:] for x in inputs]

    def metrics(self, predicted, target, meta):
        return language_model_metrics(predicted, target, meta)

    def references(self, train, test, meta, settings):
        import torch

        from rnnlab.baselines.ngram import NGramLM

        def whole(data):  # x_0 .. x_{T-1}
            return [torch.cat([x[:1], y]).numpy() for x, y in zip(data.inputs, data.targets)]

        model = NGramLM(settings.ngram_order, len(meta.vocabulary)).fit(whole(train))
        return {f"{settings.ngram_order}-gram, Kneser-Ney": {"bits_per_token": model.bits_per_token(whole(test))}}

    def served(self, answers, ids, meta):
        """The most likely next token after each sequence's last token, with its probability."""
        import torch

        last = torch.softmax(torch.stack([a[-1] for a in answers]), dim=-1)  # (B, V)
        best = last.argmax(-1)
        return pd.DataFrame(
            {
                SEQUENCE_ID: ids,
                "prediction": np.asarray(meta.classes)[best.numpy()],
                "probability": last.gather(1, best[:, None])[:, 0].numpy(),
            }
        )

    def validation_pictures(self, model, meta, val_answers, title, folder, settings, seed):
        """Text the model wrote, continuing validation prompts."""
        from rnnlab.generate import generate_samples

        _, _, val_set = val_answers
        prompts = [x[:PROMPT_TOKENS] for x in val_set.inputs[: settings.generate.samples]]
        text = generate_samples(model, meta.vocabulary, prompts, settings.generate, seed)
        path = folder / "generated.txt"
        path.write_text(
            f"# {title}: {settings.generate.samples} samples of {settings.generate.length} tokens at temperature "
            f"{settings.generate.temperature}\n\n" + "\n\n---\n\n".join(text) + "\n"
        )
        return [path]

    def import_entry(self, target, table, window):
        return {"generate": {"samples": 3, "length": 200, "temperature": 0.8}, "ngram_order": 5}


KIND = LanguageModel()
