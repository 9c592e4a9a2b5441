# Source me from a recipe directory (egs/<corpus>/asr1): puts asrkit's Python environment and
# shell helpers on PATH. ASRKIT_VENV selects another environment (a conda env, a venv of yours).
ASRKIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export ASRKIT_ROOT
_venv=${ASRKIT_VENV:-$ASRKIT_ROOT/tools/venv}
if [ ! -x "$_venv/bin/python" ] || [ ! -x "$_venv/bin/asrkit" ]; then
  echo "path.sh: no asrkit environment at $_venv: run $ASRKIT_ROOT/tools/install.sh first" >&2
  unset _venv
  return 1 2> /dev/null || exit 1
fi
export PATH=$_venv/bin:$ASRKIT_ROOT/bin:$PATH
export PYTHONPATH=$ASRKIT_ROOT${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
# One thread per process (as ESPnet's path.sh): the --nj jobs are the parallelism, and on a busy
# machine torch's default of one thread per core oversubscribes it badly (a 2-core CPU training
# ran 8x slower). For a single CPU training on a big machine: OMP_NUM_THREADS=8 ./run.sh ...
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Kaldi tables are sorted bytewise: every sort/join in a recipe must use the C locale.
export LC_ALL=C
unset _venv
