"""Job back-ends and distributed set-up.

``local`` runs JOB=1:N pieces on this machine (like Kaldi's run.pl), ``slurm`` submits them as
one Slurm array (like slurm.pl), and ``distributed`` turns torchrun's or srun's environment into
a rank, a world size and a rendezvous address for torch.distributed.
"""
