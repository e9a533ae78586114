"""The parts of a training run that ``rnnlab.train`` puts together.

module.py   the one LightningModule: loss, validation metrics over every rank, RNG in checkpoints
data.py     the LightningDataModule: length-bucketed loaders sharded by rank
resume.py   whether a run is reused, resumed or started afresh, and its MLflow logger for a resumed run
finish.py   the end of a run: the best checkpoint scored and logged with its task kind's pictures and the model
faults.py   the callbacks the kill-and-resume tests switch on through the environment
"""
