"""asrkit-compute-fbank's outputs after a failed run, and the bookkeeping of a run's results."""
from __future__ import annotations

import numpy as np
from feat_helpers import run_cli, write_scp, write_wav

from asrkit.cli import compute_fbank as compute_fbank_cli


def _tone(n: int = 8000) -> np.ndarray:
    t = np.arange(n)
    return (np.sin(t * 2 * np.pi * 440 / 16000) * 8000 + (t * 7919 % 200) - 100).astype(np.int16)


def test_failed_run_leaves_no_empty_output_folders(tmp_path):
    # Every utterance failed, so nothing was written; the folders made for the outputs went too
    # (an empty dump/test/ looked like a run that had been there). A folder that was already
    # there stays.
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "missing.wav")])
    (tmp_path / "kept").mkdir()
    out = tmp_path / "kept" / "new" / "deeper"
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{out}/feats.ark,{tmp_path}/s/feats.scp",
                                         "--write-utt2sample-rate", tmp_path / "r" / "utt2sample_rate"])
    assert result.exit_code == 1 and "all 1 utterances failed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "wav.scp"]
    assert list((tmp_path / "kept").iterdir()) == []
    # --nj pieces too; a folder the run made that holds another's file is left as it is
    write_wav(tmp_path / "ok.wav", _tone(), 8000)
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "ok.wav"), ("u2", tmp_path / "ok.wav")])
    result = run_cli(compute_fbank_cli, ["--nj", "2", f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"])
    assert result.exit_code == 1 and "sample rate 8000 Hz" in result.stderr
    assert list((tmp_path / "kept").iterdir()) == []


def test_scp_into_a_stream_ark_is_refused(tmp_path):
    # feats.scp lines "u1 /dev/null:3" (or "u1 fifo:0") pointed into nothing, exit 0
    write_wav(tmp_path / "ok.wav", _tone(), 16000)
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "ok.wav")])
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:/dev/null,{tmp_path}/out/feats.scp"])
    assert result.exit_code == 1
    assert "an scp points into its ark, which must be a file, not '/dev/null'" in result.stderr
    assert not (tmp_path / "out").exists()
    # frame counts alone, as the message says
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", "ark:/dev/null", "--write-utt2num-frames",
                                         tmp_path / "u2n"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "u2n").read_text() == "u1 48\n"


def test_an_audio_file_given_for_the_wav_scp_is_named_as_such(tmp_path):
    # 'asrkit-compute-fbank a.wav ark:-' was "a.wav:1: not UTF-8 text (invalid start byte at byte 4 ...)"
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    for spec in (str(wav), f"scp:{wav}"):
        result = run_cli(compute_fbank_cli, [spec, "ark:/dev/null"])
        assert result.exit_code == 1
        assert f"{wav}: is an audio file, not a wav.scp" in result.stderr, result.stderr


def test_an_ark_name_with_a_line_break_is_refused_with_an_scp(tmp_path):
    # feats.scp's lines ('u1 out/a' and 'b.ark:3') were cut in two, exit 0
    write_wav(tmp_path / "ok.wav", _tone(), 16000)
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "ok.wav")])
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,scp:{tmp_path}/out/a\nb.ark,{tmp_path}/out/feats.scp"])
    assert result.exit_code == 1 and "the ark's name holds a line break" in result.stderr
    assert not (tmp_path / "out").exists()


def test_kaldis_ark_t_form_of_the_frame_count_tables(tmp_path, monkeypatch):
    # make_fbank.sh's --write-utt2num-frames=ark,t:dir/utt2num_frames wrote a file (in a folder)
    # named 'ark,t:dir/...', exit 0, and dir/utt2num_frames was never written
    monkeypatch.chdir(tmp_path)
    write_wav(tmp_path / "ok.wav", _tone(), 16000)
    scp = write_scp(tmp_path / "wav.scp", [("u1", tmp_path / "ok.wav")])
    result = run_cli(compute_fbank_cli, [f"scp:{scp}", "ark:/dev/null", "--write-utt2num-frames", "ark,t:d/u2n",
                                         "--write-utt2sample-rate", "ark,t:d/u2sr"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "d" / "u2n").read_text() == "u1 48\n"
    assert (tmp_path / "d" / "u2sr").read_text() == "u1 16000\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "ok.wav", "wav.scp"]
    for value, message in [("ark:u2n", "the table is written as text: give a file name, or ark,t:FILE"),
                           ("-", "give a file name (the table is written to a file, not to stdout)"),
                           ("ark,t:-", "give a file name after 'ark,t:'")]:
        result = run_cli(compute_fbank_cli, [f"scp:{scp}", "ark:/dev/null", "--write-utt2num-frames", value])
        assert result.exit_code == 1 and message in result.stderr, (value, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "ok.wav", "wav.scp"]


def test_a_wav_scp_whose_first_id_begins_like_audio_magic_is_read(tmp_path):
    # (270be98 looked at the magic alone: caffrey_01, FORMAL_2, RIFF_07 ... were "an audio file")
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    for i, key in enumerate(("caffrey_01", "FORMAL_2", "RIFF_07", "ID3X_01", "fLaCk", "OggSy", ".snd1", "NIST_1A_x")):
        scp = tmp_path / f"w{i}.scp"
        scp.write_text(f"{key} {wav}\n")
        result = run_cli(compute_fbank_cli, [f"scp:{scp}", f"ark,t:{tmp_path}/o{i}.txt"])
        assert result.exit_code == 0, (key, result.stderr)
        assert (tmp_path / f"o{i}.txt").read_text().startswith(f"{key}  [")
    sphere = tmp_path / "a.sph"
    sphere.write_bytes(b"NIST_1A\n   1024\nsample_count -i 0\nend_head\n".ljust(1024, b" "))
    result = run_cli(compute_fbank_cli, [str(sphere), "ark:/dev/null"])
    assert result.exit_code == 1 and f"{sphere}: is an audio file, not a wav.scp" in result.stderr, result.stderr


def _killed_at_rename(k: int, module, args) -> None:
    """``module``'s command run in a forked child SIGKILLed just before its (k+1)th rename, as the
    OOM killer or a job's time limit lands between two of them."""
    import os
    import signal

    pid = os.fork()
    if pid == 0:  # (the child never returns)
        try:
            real, done = os.replace, []

            def replace(src, dst):
                if len(done) == k:
                    os.kill(os.getpid(), signal.SIGKILL)
                done.append(dst)
                real(src, dst)

            os.replace = replace
            run_cli(module, args)
        finally:
            os._exit(3)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == -signal.SIGKILL, f"not killed at rename {k + 1}"


def test_a_run_killed_between_its_renames_leaves_no_scp_into_the_new_ark(tmp_path):
    # Killed after the new feats.ark was renamed in, the old feats.scp (other utterances, same
    # lengths: the same offsets) read the new ark's features as its own utterances', exit 0.
    from asrkit.data.specifier import read_matrices

    out = tmp_path / "dump"
    runs = {}
    for name, scale in (("old", 1), ("new", 3)):
        scp = write_scp(tmp_path / f"{name}.scp", [(f"{name}{i}", write_wav(tmp_path / f"{name}{i}.wav",
                                                                          _tone() // (scale + i), 16000))
                                                   for i in (1, 2)])
        args = [f"scp:{scp}", f"ark,scp:{out}/feats.ark,{out}/feats.scp"]
        assert run_cli(compute_fbank_cli, args).exit_code == 0
        runs[name] = (args, dict(read_matrices(f"scp:{out}/feats.scp")),
                      (out / "utt2num_frames").read_text())
    for k in range(4):  # the ark, the scp, utt2num_frames and fbank.yaml
        assert run_cli(compute_fbank_cli, runs["old"][0]).exit_code == 0
        _killed_at_rename(k, compute_fbank_cli, runs["new"][0])
        if not (out / "feats.scp").exists():
            continue
        got = dict(read_matrices(f"scp:{out}/feats.scp"))
        which = "new" if "new1" in got else "old"
        _, feats, frames = runs[which]
        assert got.keys() == feats.keys() and all(np.array_equal(got[u], feats[u]) for u in got), (k, which)
        assert (out / "utt2num_frames").read_text() == frames, k
