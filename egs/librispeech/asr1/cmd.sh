# How the stages run their jobs. asrkit-launch runs one command, or JOB=1:N pieces of it, and
# writes each log beginning with the command line and ending with the time taken and the exit
# status (as Kaldi's run.pl / slurm.pl do).
#   train_cmd:  CPU work (feature extraction, CMVN, tokenizer, scoring)
#   cuda_cmd:   training (asr.sh adds --gpu <ngpu>, and --num-nodes <num-nodes> when above 1)
#   decode_cmd: decoding pieces (asr.sh adds --gpu <decode-ngpu>)
# --max-jobs-run N in a line runs at most N of its jobs at once, as with run.pl (default on this
# machine: its CPU cores; on Slurm no limit, and with it sbatch --array=1-<nj>%N), e.g.
#   export decode_cmd="asrkit-launch --backend local --max-jobs-run 2"

# On this machine:
export train_cmd="asrkit-launch --backend local"
export cuda_cmd="asrkit-launch --backend local"
export decode_cmd="asrkit-launch --backend local"

# On a Slurm cluster: uncomment these lines (they replace the ones above) and edit the partition
# and account lines of conf/slurm.conf. --mem is per node. Training on several nodes, one task
# per GPU, started by srun: ./run.sh --stage 4 --num-nodes 2 --ngpu 4
# export train_cmd="asrkit-launch --backend slurm --config conf/slurm.conf --mem 4G"
# export cuda_cmd="asrkit-launch --backend slurm --config conf/slurm.conf --mem 16G --time 24:00:00"
# export decode_cmd="asrkit-launch --backend slurm --config conf/slurm.conf --mem 8G"
