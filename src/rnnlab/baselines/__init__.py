"""Classical baselines, in plain numpy, that the recurrent models are compared against on the same
split: naive and autoregressive one-step forecasts, and a Kneser–Ney n-gram language model."""
