#!/usr/bin/env bash
# One run at a time through the stages that write a recipe's shared data (stage 0's data/, stage
# 1's dump/ and speed-perturbed copies, stage 2's lang dir, stage 3's LM): two runs started
# together, say one per training config, otherwise rewrote and merged the same feature pieces at
# once. A second run waits here, says so, and then finds the first one's work done (its .done
# markers). Training runs side by side (asrkit-train locks each exp dir); decoding and scoring
# (stages 5-6) take a lock of their own per exp dir.
#
# Source it, then: take_data_lock "<what>" (blocks, a line on stderr while another run holds it)
# and release_data_lock once the shared stages are over; take_exp_lock <exp dir> likewise for
# the stages that decode and score one experiment (held until the run ends; have_exp_lock says
# whether it is). A lock is an flock
# (data/.lock in the recipe directory, <exp dir>/.decode.lock): the kernel drops it when its
# holders end, SIGKILL included, so a dead run never leaves it behind. Commands started while it
# is held inherit it, so a stage's jobs that outlive a killed run.sh still keep the next run out
# until they end. Without flock(1), or on a file system without locks (some NFS mounts), the
# stages run unguarded, with a warning.
#
# Its names start with _dl_ or _el_ or end in _lock: it is sourced into run.sh and asr.sh.

_dl_fd=
_el_fd=

# _dl_take <lock file> <what the other run does, for the waiting line> <what goes unguarded>: the
# lock's fd in _dl_taken (empty: no lock to be had, run unguarded with a warning).
_dl_take() {
  local lock=$1 rc=0 holder fd
  _dl_taken=
  if ! command -v flock >/dev/null 2>&1; then
    echo "$(basename "$0"): WARNING: no flock(1) (util-linux): $3" >&2
    return 0
  fi
  # >> and not >: the holder's pid, written below, stays readable while the others wait.
  exec {fd}>>"$lock" || { echo "$(basename "$0"): ERROR: cannot open the lock file $lock" >&2; exit 1; }
  flock -n -E 75 "$fd" 2>/dev/null || rc=$?
  if [ "$rc" -eq 75 ]; then
    holder=$(head -c 200 "$lock" 2>/dev/null | tr -dc '0-9 ') || true
    echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) waiting for another run in $(pwd)" \
      "(${holder:+pid $holder, }$lock) to finish $2" >&2
    rc=0
    flock "$fd" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "$(basename "$0"): WARNING: cannot lock $lock (flock exit $rc; a file system without locks?): $3" >&2
    exec {fd}>&-
    return 0
  fi
  printf '%s\n' "$$" > "$lock"
  _dl_taken=$fd
}

take_data_lock() {  # <what: e.g. "stages 1-3">
  [ -z "$_dl_fd" ] || return 0
  mkdir -p data
  _dl_take data/.lock "its data stages before $1" "nothing stops another run writing data/ and dump/ beside this one"
  _dl_fd=$_dl_taken
}

release_data_lock() {
  [ -n "$_dl_fd" ] || return 0
  exec {_dl_fd}>&-
  _dl_fd=
}

# take_exp_lock <exp dir>: one run at a time decodes and scores an exp dir (asr.sh's stages 5-6,
# held to the run's end): two stage 5 runs of one model wrote their pieces into the same decode
# dirs at once. The second waits, then finds the first one's decodings done (or, for other
# options, decodes again after it).
take_exp_lock() {
  [ -z "$_el_fd" ] || return 0
  _dl_take "$1/.decode.lock" "decoding and scoring $1" "nothing stops another run decoding $1 beside this one"
  _el_fd=$_dl_taken
}

# have_exp_lock: true when this run holds its exp dir's lock (false where it runs unguarded). While
# it does, no other run of the exp's stages 5-6 is alive, nor a job one of them started.
have_exp_lock() {
  [ -n "$_el_fd" ]
}

# take_dir_lock <dir>: an flock on <dir> itself (no file made in it), held until the script ends,
# for bin/subset_data_dir.sh and bin/combine_data.sh, which write <dir>'s tables through temporary
# entries of their own there. Their EXIT traps remove those, but a SIGKILL runs no trap: a
# .subset.XXXXXX/ folder left behind made asrkit-perturb-data-dir-speed refuse <dir> as no data
# dir. While this is held no other run of theirs writes in <dir>, so such an entry is a dead run's,
# for the caller to remove. False (remove nothing) without flock(1), or where <dir> cannot be
# locked (a file system without locks; NFSv4, whose flock of a folder open for reading fails).
take_dir_lock() {
  local fd rc=0
  command -v flock >/dev/null 2>&1 || return 1
  { exec {fd}<"$1"; } 2>/dev/null || return 1
  # (75 alone is another run holding it, as in _dl_take: where the file system refuses the lock,
  # flock(1) exits 65 or 71, and the line said every run waited for one that was not there)
  flock -n -E 75 "$fd" 2>/dev/null || rc=$?
  if [ "$rc" -eq 75 ]; then
    echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) waiting for another run writing $1 to finish" >&2
    rc=0
    flock "$fd" 2>/dev/null || rc=$?
  fi
  [ "$rc" -eq 0 ] || { exec {fd}<&-; return 1; }
}
