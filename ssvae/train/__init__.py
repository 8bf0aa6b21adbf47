"""Training: the interactive trainer kept across sessions, one session's epoch loop, batches,
divergence guard, calibration, evaluation and the device."""
