# Source me from a recipe directory (egs/<corpus>/asr1): puts asrkit's Python environment and
# shell helpers on PATH. ASRKIT_VENV selects another environment (a conda env, a venv of yours).
# cd -P: a recipe directory reached through a link (ln -s .../egs/yesno/asr1 ~/yesno) went up the
# link's path to /, and said "no asrkit environment at //tools/venv".
ASRKIT_ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export ASRKIT_ROOT
_venv=${ASRKIT_VENV:-$ASRKIT_ROOT/tools/venv}
if [ ! -x "$_venv/bin/python" ] || [ ! -x "$_venv/bin/asrkit" ]; then
  _why="run $ASRKIT_ROOT/tools/install.sh first"
  # A venv is links to the Python it was made from: root's venv made from /root/.pyenv is there
  # for another user, but cannot run (/root is mode 700), and "install first" misled.
  if { [ -e "$_venv/bin/python" ] || [ -L "$_venv/bin/python" ]; } && [ ! -x "$_venv/bin/python" ]; then
    _why="$_venv/bin/python is there but $(id -un) cannot run it (a venv made from a Python that this user cannot read?); point ASRKIT_VENV at an environment of yours"
  fi
  echo "path.sh: no asrkit environment at $_venv: $_why" >&2
  unset _venv _why
  return 1 2> /dev/null || exit 1
fi
# mktemp (utils/subset_data_dir.sh, local/loso.sh) makes its files in $TMPDIR: one that is gone
# (a typo, an ended job's scratch dir) stopped stage 0 part-way with mktemp's message, which does
# not say TMPDIR. (asrkit's Python commands fall back to /tmp on their own.)
if [ -n "${TMPDIR:-}" ] && { [ ! -d "$TMPDIR" ] || [ ! -w "$TMPDIR" ] || [ ! -x "$TMPDIR" ]; }; then
  echo "path.sh: TMPDIR=$TMPDIR is not a directory this user can write: create it or unset TMPDIR" >&2
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
