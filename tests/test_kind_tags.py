"""The task kind ``tags`` (a set of tags per sequence) end to end, as a user meets it: ``rnnlab import``
of their file, the prepare step with its references, a real Lightning run logged to MLflow, the test
split scored, and the logged MLflow model answering a table. It is the worked example of adding a
task kind: one module (rnnlab/kinds/tags.py) and one registry entry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.test_import import project, run_import  # noqa: F401 (project: a fixture)

TAGS = ("bright", "fast")


def tagged_table(per_split: int = 48, seed: int = 0) -> pd.DataFrame:
    """Sequences of 4-9 steps whose tags are read from their features: "bright" when ``level`` sits above
    zero, "fast" when ``pace`` does; "-" when neither. A user's own column names and a train/test split."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "test"):
        for i in range(per_split):
            bright, fast = i % 2 == 0, (i // 2) % 2 == 0
            tags = "|".join(t for t, on in zip(TAGS, (bright, fast)) if on) or "-"
            for step in range(int(rng.integers(4, 10))):
                level = (1.0 if bright else -1.0) + 0.3 * rng.normal()
                pace = (1.0 if fast else -1.0) + 0.3 * rng.normal()
                rows.append(
                    {
                        "sequence_id": f"{split}-{i}",
                        "step": step,
                        "level": level,
                        "pace": pace,
                        "mood": tags,
                        "split": split,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def imported(project, tmp_path_factory):  # noqa: F811 (the imported fixture)
    path = tmp_path_factory.mktemp("tags") / "moods.csv"
    tagged_table().to_csv(path, index=False)
    result = run_import(project, path, task="tags", target="mood", name="moods")
    assert result.returncode == 0, result.stderr
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["datasets"]["moods"]["task"] == "tags"
    params["datasets"]["moods"]["train"] = {"max_epochs": 30, "patience": 30, "learning_rate": 0.01}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def test_a_tags_dataset_trains_scores_and_serves_end_to_end(imported):
    import mlflow

    from rnnlab import tracking
    from rnnlab.compare import evaluate_test
    from rnnlab.config import load_config
    from rnnlab.data import prepare
    from rnnlab.data.store import read_table
    from rnnlab.paths import prepared_dir, raw_dir
    from rnnlab.train import train_run

    root = imported
    config = load_config(root / "params.yaml")
    assert ("gru", "moods") in config.pairs()
    splits, meta = prepare.prepare(read_table(raw_dir(root, "moods")), "moods", config.dataset("moods"))
    prepare.write_prepared(prepared_dir(root, "moods"), splits, meta)
    assert meta.task == "tags" and meta.classes == list(TAGS) and meta.num_classes == 2
    references = meta.baselines["test"]
    prevalence = references["training prevalence per tag"]
    assert set(prevalence) == {"micro_f1", "macro_f1", "set_accuracy", "hamming_loss"}
    # the tags are linear in the features' means: the order-free reference finds them
    assert references["logistic regression per column on mean/std/min/max/first/last"]["set_accuracy"] == 1.0

    summary = train_run(config, root, "gru", "moods", seed=0, quiet=True)
    assert summary["task"] == "tags" and "best_val_micro_f1" in summary
    tested = evaluate_test(config, root, "moods", "gru", 0)
    assert tested["test_micro_f1"] > prevalence["micro_f1"], (tested, prevalence)
    assert tested["test_hamming_loss"] < prevalence["hamming_loss"]

    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["test_micro_f1"] == tested["test_micro_f1"]
    mlflow.set_tracking_uri(tracking.tracking_uri(config, root))
    served = mlflow.pyfunc.load_model(f"runs:/{summary['run_id']}/model")
    request = tagged_table(per_split=8, seed=1)
    answers = served.predict(request[request["split"] == "test"].drop(columns=["mood", "split"]))
    assert list(answers.columns) == ["sequence_id", "prediction", "p_bright", "p_fast"]
    truth = request.groupby("sequence_id")["mood"].first()
    assert (answers.set_index("sequence_id")["prediction"] == truth.loc[answers["sequence_id"]].to_numpy()).mean() > 0.5
    assert ((answers[["p_bright", "p_fast"]] >= 0) & (answers[["p_bright", "p_fast"]] <= 1)).all().all()


def test_a_tag_unseen_in_training_and_a_single_tag_are_refused(project, tmp_path):  # noqa: F811
    table = tagged_table(per_split=8)
    table.loc[table["sequence_id"] == "test-0", "mood"] = "bright|sleepy"
    path = tmp_path / "unseen.csv"
    table.to_csv(path, index=False)
    unseen = run_import(project, path, task="tags", target="mood", name="unseen")
    assert unseen.returncode == 2 and "tag 'sleepy' appears in the test split but not in train" in unseen.stderr
    one = tagged_table(per_split=8).assign(mood="bright")
    one.to_csv(path, index=False)
    single = run_import(project, path, task="tags", target="mood", name="single")
    assert (
        single.returncode == 2 and "target column 'mood' holds 1 tag(s); task tags needs at least two" in single.stderr
    )
