"""Training: the one trainer loop (AMP, DDP, checkpoints, resume, early stop) and the tasks it trains
(LAS: las_task.py for asrkit-train via train_asr.py; the LM: train_lm.py for asrkit-train-lm),
length-bucketed batches, checkpoint packing and averaging, validation and attention plots."""
