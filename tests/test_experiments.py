"""Studies (`rnnlab experiment NAME`) run end to end on shrunken settings: real training, MLflow, reports.

The measured studies take tens of minutes; here the same code runs on a few hundred sequences and
one epoch, and the tests check the plumbing and the measures (recall accuracy, gradient ratios),
not the papers' results.
"""

from __future__ import annotations

import math
import re

import mlflow
import pytest
from ruamel.yaml import YAML

from rnnlab.config import load_config
from rnnlab.errors import ConfigError
from rnnlab.experiments import run_experiment
from rnnlab.experiments.studies import layer_gradient_norms
from tests.conftest import command_in_this_process, copy_project, make_meta


def shrink(root, overrides: dict) -> None:
    """Set dotted keys where they are written: a study's experiment (``experiments.NAME``) in
    studies/NAME.yaml under ``study``, an entry in the file that defines it (params.yaml or a study file)."""
    yaml = YAML()
    files = {path: yaml.load(path) for path in [root / "params.yaml", *sorted((root / "studies").glob("*.yaml"))]}
    for dotted, value in overrides.items():
        section, name, *rest = dotted.split(".")
        if section == "experiments" and (root / "studies" / f"{name}.yaml") in files:
            node, keys = files[root / "studies" / f"{name}.yaml"], ["study", *rest]
        else:
            path = next((p for p, doc in files.items() if name in (doc.get(section) or {})), root / "params.yaml")
            node, keys = files[path], [section, name, *rest]
        *keys, last = keys
        for key in keys:
            node = node[key]
        node[last] = value
    for path, doc in files.items():
        yaml.dump(doc, path)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("study"))
    tiny = {"max_epochs": 1, "batch_size": 32, "learning_rate": 0.003, "patience": 1, "bucket_width": 1}
    shrink(
        root,
        {
            "datasets.copy_memory_100.generator.sequences": 200,
            "datasets.copy_memory_100.generator.delay": 20,
            "datasets.copy_memory_100.train": tiny,
            "datasets.adding.generator.sequences": 200,
            "datasets.adding.train": tiny,
            "architectures.dilated_gru_copy.dilations": [1, 2, 4],
            "architectures.dilated_gru_copy.hidden_size": 8,
            "architectures.lstm_copy.hidden_size": 8,
            "architectures.dglstm_deep.hidden_size": 8,
            "architectures.dglstm_deep.num_layers": 3,
            "architectures.lstm_deep.hidden_size": 8,
            "architectures.lstm_deep.num_layers": 3,
            "experiments.copy_memory": {
                "datasets": ["copy_memory_100"],
                "architectures": ["dilated_gru_copy", "lstm_copy"],
                "seeds": [0],
                "analysis": "copy_memory",
            },
            "experiments.adding_depth.seeds": [0],
            "datasets.copy_bits.generator": {
                "bits": 3,
                "min_length": 1,
                "max_length": 4,
                "test_lengths": [4, 8],
                "sequences": 120,
                "test_sequences": 3,
                "seed": 0,
            },
            "datasets.copy_bits.val_fraction": 0.2,
            "datasets.copy_bits.train": tiny,
            "architectures.ntm_copy.controller_size": 8,
            "architectures.ntm_copy.memory_rows": 10,
            "architectures.ntm_copy.memory_width": 4,
            "architectures.ntm_copy.backend": "reference",
            "architectures.lstm_copy_bits.hidden_size": 8,
            "experiments.ntm_copy.seeds": [0],
            **{
                f"datasets.conversations_p{p}.{key}": value
                for p in (2, 4)
                for key, value in {"generator.dialogues": 60, "generator.max_length": 12, "train": tiny}.items()
            },
            "architectures.dialogue_rnn.global_size": 8,
            "architectures.dialogue_rnn.party_size": 8,
            "architectures.dialogue_rnn.emotion_size": 8,
            "architectures.gru_speakers.hidden_size": 8,
            "architectures.utterance_mlp.hidden_size": 8,
            "datasets.table_questions.generator": {
                "min_rows": 2,
                "max_rows": 4,
                "test_rows": [3, 6],
                "sequences": 150,
                "test_sequences": 10,
                "seed": 0,
            },
            "datasets.table_questions.train": {**tiny, "gradient_noise": 0.01, "huber_delta": 1.0},
            "architectures.neural_programmer.hidden_size": 8,
            "architectures.lstm_tables.hidden_size": 8,
            "experiments.table_programs.seeds": [0],
            "experiments.dialogue_parties": {
                "datasets": ["conversations_p2", "conversations_p4"],
                "architectures": ["utterance_mlp", "gru_speakers", "dialogue_rnn"],
                "seeds": [0],
                "analysis": "dialogue_parties",
            },
        },
    )
    return root


def test_copy_memory_study_reports_recall_and_the_memoryless_loss(project):
    config = load_config(project / "params.yaml")
    report = run_experiment(config, project, "copy_memory")
    text = report.read_text()
    assert "recall accuracy (test)" in text and "dilated_gru_copy" in text and "lstm_copy" in text
    assert (report.parent / "copy_memory" / "copy_memory_val_loss.png").stat().st_size > 10_000
    memoryless = 10 * math.log(8) / (20 + 20)
    assert f"{memoryless:.4g}" in text
    client = mlflow.MlflowClient(f"sqlite:///{project}/mlflow/mlflow.db")
    study = client.get_experiment_by_name("rnnlab/study-copy_memory")
    (run,) = client.search_runs([study.experiment_id])
    recall = run.data.metrics["test_recall_accuracy/copy_memory_100/lstm_copy"]
    assert 0.0 <= recall <= 1.0
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"copy_memory.md", "copy_memory_val_loss.png"}
    # a second run reuses the finished trainings (same settings, same generated data)
    again = run_experiment(config, project, "copy_memory").read_text()
    assert "2 reused from an earlier identical run" in again


def test_the_pipeline_training_the_same_pair_leaves_the_studys_runs_alone(project):
    """Runs after the copy_memory study: the train stage's command for one of its pairs and seeds
    trains into the pipeline's models/, and the study's runs are all still there and reused."""
    import json

    from rnnlab import train

    study_run = (
        project / "study_runs" / "copy_memory" / "copy_memory_100" / "lstm_copy" / "runs" / "seed_0" / "run.json"
    )
    before = json.loads(study_run.read_text())["run_id"]
    argv = ["--architecture", "lstm_copy", "--dataset", "copy_memory_100", "--seed", "0"]
    stage = command_in_this_process(train.main, argv, project)
    assert stage.returncode == 0, stage.stderr[-3000:]
    pipeline_run = json.loads(
        (project / "models" / "copy_memory_100" / "lstm_copy" / "runs" / "seed_0" / "run.json").read_text()
    )
    assert pipeline_run["run_id"] != before
    assert json.loads(study_run.read_text())["run_id"] == before
    again = run_experiment(load_config(project / "params.yaml"), project, "copy_memory").read_text()
    assert "2 reused from an earlier identical run" in again


def test_adding_depth_study_measures_gradient_ratios(project):
    config = load_config(project / "params.yaml")
    text = run_experiment(config, project, "adding_depth").read_text()
    assert "grad ratio first/top, init" in text and "dglstm_deep" in text and "lstm_deep" in text
    assert (project / "reports" / "experiments" / "adding_depth" / "adding_gradient_norms.png").is_file()


def test_ntm_copy_study_counts_bit_errors_per_length_and_draws_the_heads(project):
    config = load_config(project / "params.yaml")
    text = run_experiment(config, project, "ntm_copy").read_text()
    assert "bit errors / sequence, length 4" in text and "bit errors / sequence, length 8" in text
    heatmap = project / "reports" / "experiments" / "ntm_copy" / "weightings_ntm_copy_seed0.png"
    assert heatmap.stat().st_size > 10_000 and not (heatmap.parent / "weightings_lstm_copy_bits_seed0.png").exists()
    client = mlflow.MlflowClient(f"sqlite:///{project}/mlflow/mlflow.db")
    ntm_run = next(
        r
        for r in client.search_runs([client.get_experiment_by_name("rnnlab/copy_bits").experiment_id])
        if r.info.run_name == "ntm_copy-seed0"
    )
    assert ntm_run.data.tags["rnnlab.kind"] == "study", "a study's run stays out of the pipeline's comparison view"
    assert "plots/weightings_ntm_copy_seed0.png" in {
        a.path for a in client.list_artifacts(ntm_run.info.run_id, "plots")
    }


def test_bit_errors_count_wrong_bits_of_answer_steps():
    from rnnlab.data.sources.synthetic import NO_ANSWER, bit_errors

    assert bit_errors("0110", "0110") == 0 and bit_errors("0111", "0110") == 1 and bit_errors(NO_ANSWER, "0110") == 2


def test_layer_gradient_norms_has_one_norm_per_recurrent_layer(project):
    import torch

    from rnnlab.data.batching import Batch
    from rnnlab.evaluate import build_model

    config = load_config(project / "params.yaml")
    batch = Batch(torch.randn(4, 9, 2), torch.tensor([9, 5, 3, 1]), torch.randn(4))
    for name in ("dglstm_deep", "lstm_deep"):
        model = build_model(config.architecture(name), make_meta(task="regress", num_features=2))
        norms = layer_gradient_norms(model, batch, "regress")
        assert len(norms) == 3 and all(n > 0 for n in norms)
        assert all(p.grad is None or not p.grad.any() for p in model.parameters())  # leaves no gradient behind


def test_an_unknown_study_is_named(project):
    with pytest.raises(ConfigError, match=r"^study 'nope': no file studies/nope.yaml \(studies: act_parity, "):
        run_experiment(load_config(project / "params.yaml"), project, "nope")


def test_a_study_names_its_analysis_and_an_unknown_one_stops_before_training(project, tmp_path):
    from rnnlab.experiments import ANALYSES

    config = load_config(project / "params.yaml")
    assert {spec.analysis for spec in config.experiments.values()} - {None} <= set(ANALYSES)
    assert (
        config.experiments["copy_memory_long"].analysis == "copy_memory" and config.experiments["g2p"].analysis is None
    )
    spec = config.experiments["g2p"].model_copy(update={"analysis": "g2p_alignments"})
    bad = config.model_copy(update={"experiments": {**config.experiments, "g2p": spec}})
    with pytest.raises(ConfigError, match=r"^studies/g2p.yaml: study.analysis = 'g2p_alignments': unknown analysis"):
        run_experiment(bad, tmp_path, "g2p")
    assert list(tmp_path.iterdir()) == [], "nothing trained, nothing written"


def test_a_study_of_an_imported_dataset_reads_it_as_dvc_tracks_it(project):
    from rnnlab.data import store
    from rnnlab.data.sources import load
    from rnnlab.experiments.runner import materialize

    table = load("adding", {"length": 6, "length_spread": 0.0, "sequences": 60, "seed": 9})
    store.write_table(table, project / "data" / "raw" / "my_sums")
    shrink(
        project,
        {
            "datasets.my_sums": {
                "source": "imported",
                "task": "regress",
                "val_fraction": 0.2,
                "test_fraction": 0.2,
                "max_sequences": None,
                "max_length": None,
                "split_seed": 0,
                "tokens": None,
                "train": {},
            }
        },
    )
    meta = materialize(load_config(project / "params.yaml"), project, "my_sums")
    assert meta.task == "regress" and sum(v["sequences"] for v in meta.lengths.values()) == 60


def test_attention_reversal_study_scores_lengths_and_alignments(project):
    tiny = {"max_epochs": 1, "batch_size": 16, "learning_rate": 0.003, "patience": 1, "bucket_width": 1}
    shrink(
        project,
        {
            "datasets.reverse_digits.generator": {
                "min_length": 2,
                "max_length": 4,
                "test_min_length": 2,
                "test_max_length": 6,
                "sequences": 120,
                "test_sequences": 30,
                "seed": 0,
            },
            "datasets.reverse_digits.train": tiny,
            "architectures.seq2seq_gru.hidden_size": 4,
            "architectures.attention.hidden_size": 4,
            "experiments.attention_reversal": {
                "datasets": ["reverse_digits"],
                "architectures": ["seq2seq_gru", "attention"],
                "seeds": [0],
                "analysis": "attention_reversal",
            },
        },
    )
    text = run_experiment(load_config(project / "params.yaml"), project, "attention_reversal").read_text()
    assert "exact (trained lengths)" in text and "alignment (longer)" in text
    folder = project / "reports" / "experiments" / "attention_reversal"
    assert (folder / "exact_by_length.png").stat().st_size > 10_000
    heatmaps = sorted(p.name for p in folder.glob("alignment_*.png"))
    assert heatmaps and all(name.startswith("alignment_attention_seed0_L") for name in heatmaps), (
        "only the attention model has alignments"
    )
    client = mlflow.MlflowClient(f"sqlite:///{project}/mlflow/mlflow.db")
    run = next(
        r
        for r in client.search_runs([client.get_experiment_by_name("rnnlab/reverse_digits").experiment_id])
        if r.info.run_name == "attention-seed0"
    )
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/alignment_val_0.png", f"plots/{heatmaps[0]}"} <= logged, "the training run shows its alignments"
    assert (
        0.0 <= run.data.metrics["best_val_sequence_accuracy"] <= 1.0
        and run.data.metrics["best_val_token_error_rate"] >= 0.0
    )


def test_act_parity_study_reports_ponder_steps(project):
    tiny = {"max_epochs": 1, "batch_size": 32, "learning_rate": 0.003, "patience": 1, "bucket_width": 1}
    shrink(
        project,
        {
            "datasets.parity.generator": {"bits": 4, "sequences": 200, "test_sequences": 40, "seed": 0},
            "datasets.parity.val_fraction": 0.1,
            "datasets.parity.train": tiny,
            "architectures.rnn.hidden_size": 4,
            "architectures.act_parity.hidden_size": 4,
            "architectures.act_parity.max_steps": 3,
            "experiments.act_parity": {
                "datasets": ["parity"],
                "architectures": ["rnn", "act_parity"],
                "seeds": [0],
                "analysis": "act_parity",
            },
        },
    )
    text = run_experiment(load_config(project / "params.yaml"), project, "act_parity").read_text()
    assert "mean ponder steps" in text and "act_parity τ = 0.001" in text
    row = next(line for line in text.splitlines() if line.startswith("| parity | act_parity | 1 |"))
    ponder = float(row.split("|")[5].split("±")[0])
    assert 1.0 <= ponder <= 3.0, "between one step and M = 3"
    assert (project / "reports" / "experiments" / "act_parity" / "ponder.png").stat().st_size > 10_000
    share = float(text.split("Test vectors also present in the training split: parity: ")[1].split("%")[0])
    assert 50.0 < share <= 100.0, "81 possible vectors of 4 entries, 180 training draws: most test vectors were seen"


def test_dialogue_parties_study_and_a_logged_dialogue_model_reads_speaker_names(project):
    """The study trains all three models on dialogues (speaker one-hot after the features) and splits
    accuracy into first and later utterances; the logged DialogueRNN answers a raw dialogue whose
    speakers have names, and refuses one with more parties than it was trained on."""
    import numpy as np
    import pandas as pd

    config = load_config(project / "params.yaml")
    text = run_experiment(config, project, "dialogue_parties").read_text()
    assert "acc. later utterances" in text and "| conversations_p4 | dialogue_rnn | 1 |" in text
    assert (project / "reports" / "experiments" / "dialogue_parties" / "dialogue_parties.png").stat().st_size > 10_000
    client = mlflow.MlflowClient(f"sqlite:///{project}/mlflow/mlflow.db")
    (run,) = [
        r
        for r in client.search_runs([client.get_experiment_by_name("rnnlab/conversations_p2").experiment_id])
        if r.info.run_name == "dialogue_rnn-seed0"
    ]
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    rng = np.random.default_rng(0)
    talk = pd.DataFrame(
        {
            "sequence_id": "chat",
            "step": range(5),
            **{f"u_{j}": rng.normal(size=5) for j in range(16)},
            "speaker": ["Ann", "Bob", "Ann", "Ann", "Bob"],
        }
    )
    answer = model.predict(talk)
    assert len(answer) == 5 and set(answer["prediction"]) <= {"negative", "neutral", "positive"}
    with pytest.raises(Exception, match="dialogue 'chat' has 3 parties; the training dialogues have at most 2"):
        model.predict(talk.assign(speaker=["Ann", "Bob", "Cy", "Ann", "Bob"]))


def test_table_programs_study_scores_answers_by_table_size_and_the_programs(project):
    """The Neural Programmer and the LSTM train through the one training module (Huber loss,
    gradient noise); the report has exact answers per table size and the programmer's program accuracy."""
    config = load_config(project / "params.yaml")
    text = run_experiment(config, project, "table_programs").read_text()
    assert "exact, 6 rows" in text and "program acc." in text and "| table_questions | neural_programmer | 1 |" in text
    assert (
        "| dataset | architecture | seeds | sum col | sum where > | count where < | count where > and < | count rows |"
        in text
    )  # per template
    assert "The run validation picks among the seeds" in text
    assert re.search(
        r"\| neural_programmer \| 0 \| (\w+ ){3}\w+ \(\d+%\) \|", text
    )  # the program it runs on the first template
    assert (project / "reports" / "experiments" / "table_programs" / "table_programs.png").stat().st_size > 10_000
    client = mlflow.MlflowClient(f"sqlite:///{project}/mlflow/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("rnnlab/study-table_programs").experiment_id])
    assert 0.0 <= run.data.metrics["program_accuracy/table_questions/neural_programmer"] <= 1.0


def test_an_epoch_budget_reads_a_curve_against_its_cap_and_the_reference_by_hand():
    """Bits per character fall 3.0, 2.6, 2.5, 2.4, 2.45: within a cap of 2 epochs the best is 2.6;
    the best is 2.4 at epoch 4; a 5-gram's 2.5 is first beaten at epoch 4 (2.5 ties, it does not beat).
    Accuracy (greater is better) on the same numbers: the best is 3.0 at epoch 1, past 2.5 at once."""
    from rnnlab.experiments.studies import along_the_curve

    bits = [3.0, 2.6, 2.5, 2.4, 2.45]
    assert along_the_curve(bits, 2, 2.5, greater=False) == {
        "best_within_cap": 2.6,
        "best": 2.4,
        "best_epoch": 4,
        "first_epoch_past_reference": 4,
    }
    assert along_the_curve(bits, 2, 2.5, greater=True)["first_epoch_past_reference"] == 1
    assert along_the_curve(bits, 9, 1.0, greater=False)["first_epoch_past_reference"] is None
    assert along_the_curve(bits, 9, None, greater=False)["first_epoch_past_reference"] is None, "no reference"


def test_an_epoch_budget_of_a_dataset_the_pipeline_does_not_read_stops_with_one_line(tmp_path):
    """epoch_budget reads a study dataset against the pipeline's dataset of the same source; a source the
    pipeline never reads (copy_memory) has nothing to compare with, said before anything is read."""
    from rnnlab.experiments.runner import Trained
    from rnnlab.experiments.studies import epoch_budget
    from tests.conftest import ROOT

    config = load_config(ROOT / "params.yaml")
    run = Trained("gru", "copy_memory_100", 0, {}, False, tmp_path)
    with pytest.raises(ConfigError, match=r"^studies/x.yaml: copy_memory_100 reads source 'copy_memory', which no "):
        epoch_budget(config, tmp_path, "x", [run], tmp_path)
