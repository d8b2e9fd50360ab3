"""Networks: configs and presets, models, the training loop, run folders, jobs, prediction."""
