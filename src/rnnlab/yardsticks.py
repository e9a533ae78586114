"""Published reference figures, by source, for the split that source defines.

Each is measured with public libraries on this kind of machine (2-core CPU), quoted from
../shared/reference/datasets.md, or published by the authors of a model on the same official split
(the origin says which); they hold only when the source's own test split is used whole.
The baselines rnnlab measures itself (naive, AR, n-gram, non-recurrent classifiers) are computed
by the prepare step on the dataset's actual split and stored in its meta.
"""

from __future__ import annotations

PUBLISHED: dict[str, list[dict]] = {
    "japanese_vowels": [
        {
            "name": "1-NN DTW, unequal length",
            "metric": "accuracy",
            "value": 0.949,
            "origin": "datasets.md, official split",
        },
        {
            "name": "1-NN DTW, padded with the last frame",
            "metric": "accuracy",
            "value": 0.970,
            "origin": "datasets.md, official split",
        },
        {
            "name": "plain PyTorch LSTM, H=128, 3 seeds",
            "metric": "accuracy",
            "value": 0.961,
            "origin": "datasets.md, official split",
        },
        {"name": "MiniRocket (sktime)", "metric": "accuracy", "value": 0.987, "origin": "datasets.md, official split"},
        {"name": "ROCKET (sktime)", "metric": "accuracy", "value": 0.993, "origin": "sktime on the official split"},
        {
            "name": "InceptionTime",
            "metric": "accuracy",
            "value": 0.9919,
            "origin": "hfawaz/InceptionTime results, official split",
        },
        {"name": "FCN", "metric": "accuracy", "value": 0.993, "origin": "hfawaz/dl-4-tsc results, official split"},
        {"name": "ResNet", "metric": "accuracy", "value": 0.992, "origin": "hfawaz/dl-4-tsc results, official split"},
        {"name": "MLP", "metric": "accuracy", "value": 0.976, "origin": "hfawaz/dl-4-tsc results, official split"},
    ],
    "basic_motions": [
        {
            "name": "InceptionTime",
            "metric": "accuracy",
            "value": 1.00,
            "origin": "hfawaz/InceptionTime results, official split",
        },
    ],
    "plaid": [
        {
            "name": "InceptionTime, every sample",
            "metric": "accuracy",
            "value": 0.9441,
            "origin": "hfawaz/InceptionTime results, official split",
        },
    ],
    "sunspots": [
        {
            "name": "naive last value",
            "metric": "mae",
            "value": 14.84,
            "origin": "datasets.md, train 1749–1936, test 1937–1983",
        },
        {"name": "darts LSTM, 48-month input", "metric": "mae", "value": 13.70, "origin": "datasets.md, same split"},
        {"name": "AR(34), statsmodels", "metric": "mae", "value": 13.36, "origin": "datasets.md, same split"},
    ],
}
