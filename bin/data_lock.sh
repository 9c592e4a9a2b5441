#!/usr/bin/env bash
# One run at a time through the stages that write a recipe's shared data (stage 0's data/, stage
# 1's dump/ and speed-perturbed copies, stage 2's lang dir, stage 3's LM): two runs started
# together, say one per training config, otherwise rewrote and merged the same feature pieces at
# once. A second run waits here, says so, and then finds the first one's work done (its .done
# markers); training and decoding (stages 4-6) run side by side as before, with asrkit-train's own
# lock on each exp dir.
#
# Source it, then: take_data_lock "<what>" (blocks, a line on stderr while another run holds it)
# and release_data_lock once the shared stages are over. The lock is an flock on data/.lock, in
# the recipe directory: the kernel drops it when its holders end, SIGKILL included, so a dead run
# never leaves it behind. Commands started while it is held inherit it, so a stage's jobs that
# outlive a killed run.sh still keep the next run out until they end. Without flock(1), or on a
# file system without locks (some NFS mounts), the stages run unguarded, with a warning.
#
# Its names start with _dl_ or end in _data_lock: it is sourced into run.sh and asr.sh.

_dl_fd=

take_data_lock() {  # <what: e.g. "stages 1-3">
  [ -z "$_dl_fd" ] || return 0
  local lock=data/.lock rc=0 holder
  if ! command -v flock >/dev/null 2>&1; then
    echo "$(basename "$0"): WARNING: no flock(1) (util-linux): nothing stops another run writing data/ and dump/ beside this one" >&2
    return 0
  fi
  mkdir -p data
  # >> and not >: the holder's pid, written below, stays readable while the others wait.
  exec {_dl_fd}>>"$lock" || { echo "$(basename "$0"): ERROR: cannot open $lock (for the $1 lock)" >&2; exit 1; }
  flock -n -E 75 "$_dl_fd" 2>/dev/null || rc=$?
  if [ "$rc" -eq 75 ]; then
    holder=$(head -c 200 "$lock" 2>/dev/null | tr -dc '0-9 ') || true
    echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) waiting for another run in $(pwd)" \
      "(${holder:+pid $holder, }$lock) to finish its data stages before $1" >&2
    rc=0
    flock "$_dl_fd" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "$(basename "$0"): WARNING: cannot lock $lock (flock exit $rc; a file system without locks?):" \
      "nothing stops another run writing data/ and dump/ beside this one" >&2
    exec {_dl_fd}>&-
    _dl_fd=
    return 0
  fi
  printf '%s\n' "$$" > "$lock"
}

release_data_lock() {
  [ -n "$_dl_fd" ] || return 0
  exec {_dl_fd}>&-
  _dl_fd=
}
