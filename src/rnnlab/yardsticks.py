"""Published reference figures, by source, for the split that source defines.

Each was measured with public libraries on this kind of machine (2-core CPU) and is quoted from
../shared/reference/datasets.md; they hold only when the source's own test split is used whole.
The baselines rnnlab measures itself (naive, AR, n-gram, non-recurrent classifiers) are computed
by the prepare step on the dataset's actual split and stored in its meta.
"""

from __future__ import annotations

PUBLISHED: dict[str, list[dict]] = {
    "japanese_vowels": [
        {"name": "1-NN DTW, unequal length", "metric": "accuracy", "value": 0.949, "origin": "datasets.md, official split"},
        {"name": "1-NN DTW, padded with the last frame", "metric": "accuracy", "value": 0.970, "origin": "datasets.md, official split"},
        {"name": "plain PyTorch LSTM, H=128, 3 seeds", "metric": "accuracy", "value": 0.961, "origin": "datasets.md, official split"},
        {"name": "MiniRocket (sktime)", "metric": "accuracy", "value": 0.987, "origin": "datasets.md, official split"},
    ],
    "sunspots": [
        {"name": "naive last value", "metric": "mae", "value": 14.84, "origin": "datasets.md, train 1749–1936, test 1937–1983"},
        {"name": "darts LSTM, 48-month input", "metric": "mae", "value": 13.70, "origin": "datasets.md, same split"},
        {"name": "AR(34), statsmodels", "metric": "mae", "value": 13.36, "origin": "datasets.md, same split"},
    ],
}
