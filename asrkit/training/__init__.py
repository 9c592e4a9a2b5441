"""Training: length-bucketed batches, the trainer loop (AMP, DDP, checkpoints, resume, early stop),
checkpoint averaging and attention plots. ``asrkit-train`` and ``asrkit-average`` call into it."""
