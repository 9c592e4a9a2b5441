"""A full disk (or a full device) under one of a command's outputs is named as that output.

A write's OSError carries no file name, and AtomicFiles guessed it from its temporary files'
times: an output linked to /dev/full (written in place, no temporary file) was named as the
output written before it (asrkit-score's result.txt as wer.txt, asrkit-train-tokenizer's
tokens.txt as tokens.model, asrkit-make-data-dir's text as wav.scp) or not named at all, and
asrkit-fix-data-dir's backup on a full disk was named as the table it copied (shutil's sendfile
error names the source).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (writes fail with ENOSPC)")

TEXT = "".join(f"spk{i % 3}-u{i:03d} hello world this is line {i}\n" for i in range(30))


def _last_line(proc) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    return err.splitlines()[-1]


@needs_dev_full
@pytest.mark.parametrize("full", ["wer.txt", "result.txt"])
def test_score(tmp_path, asrkit, full):
    (tmp_path / "text").write_text(TEXT)
    out = tmp_path / "out"
    out.mkdir()
    (out / full).symlink_to("/dev/full")
    proc = asrkit("score", "--output-dir", out, tmp_path / "text", tmp_path / "text", check=False)
    assert _last_line(proc) == f"ERROR (asrkit-score): {out / full}: no space left on device"
    assert os.listdir(out) == [full]


@needs_dev_full
@pytest.mark.parametrize("full", ["tokens.txt", "tokenizer.yaml"])
def test_train_tokenizer(tmp_path, asrkit, full):
    (tmp_path / "text").write_text(TEXT)
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / full).symlink_to("/dev/full")
    proc = asrkit("train-tokenizer", "--model-type", "char", tmp_path / "text", lang, check=False)
    assert _last_line(proc) == f"ERROR (asrkit-train-tokenizer): {lang / full}: no space left on device"
    assert os.listdir(lang) == [full]


@needs_dev_full
def test_holdout_lists(tmp_path, asrkit):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/utt2spk").write_text("".join(f"{line.split()[0]} {line[:4]}\n" for line in TEXT.splitlines()))
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "dev.list").symlink_to("/dev/full")
    proc = asrkit("holdout-lists", "--dev-fraction", "0.34", "--test-fraction", "0.34", tmp_path / "data", lists,
                  check=False)
    assert _last_line(proc) == f"ERROR (asrkit-holdout-lists): {lists / 'dev.list'}: no space left on device"
    assert os.listdir(lists) == ["dev.list"]


@needs_dev_full
def test_make_data_dir(tmp_path, asrkit):
    import soundfile as sf

    (tmp_path / "audio").mkdir()
    for i in range(3):
        sf.write(tmp_path / f"audio/a{i}.wav", np.zeros(1600, np.int16), 16000)
        (tmp_path / f"audio/a{i}.txt").write_text(f"hello {i}\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "text").symlink_to("/dev/full")
    proc = asrkit("make-data-dir", "--speaker", "me", tmp_path / "audio", data, check=False)
    assert _last_line(proc) == f"ERROR (asrkit-make-data-dir): {data / 'text'}: no space left on device"
    assert os.listdir(data) == ["text"]


def test_fix_data_dir_names_the_backup_not_the_table_it_copies(tmp_path):
    """A real write failure, not a link: under a file size limit (EFBIG, as a quota or a full disk
    fails a write), the backup of a table bigger than the limit cannot be written."""
    data = tmp_path / "data"
    data.mkdir()
    # (1000 utterances: wav.scp ~32 kB, utt2spk ~17 kB, text ~112 kB; with 3000 wav.scp was 96 kB,
    # over the limit too, and which backup failed first went by the folder's listing order)
    utts = [f"spk{i % 3}-u{i:05d}" for i in range(1000)]
    (data / "wav.scp").write_text("".join(f"{u} /x/{u}.wav\n" for u in utts[:-1]))  # one fewer: the rest change
    (data / "text").write_text("".join(f"{u} {'word ' * 20}\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {u[:4]}\n" for u in utts))
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    assert [p.name for p in data.iterdir() if p.stat().st_size > 64 << 10] == ["text"]
    # 64 KiB: above every table but text (Python ignores SIGXFSZ: the write fails with EFBIG). No
    # .pyc written under the limit: importlib's write of one over 64 KiB (validate.py's is 60) is
    # cut short without an error and renamed into place, failing every later import of the module.
    proc = subprocess.run(["bash", "-c", 'ulimit -f 64 && exec "$0" -m asrkit fix-data-dir "$1"', sys.executable,
                           str(data)], capture_output=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1"))
    assert _last_line(proc) == f"ERROR (asrkit-fix-data-dir): {data / '.backup' / 'text'}: file too large"
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before
    assert not any((data / ".backup").iterdir())


@needs_dev_full
def test_matrix_writer_and_compute_fbank_ark_on_a_full_device(tmp_path, asrkit):
    """Named before too (the ark was the fallback name); kept so now that each file names itself."""
    import soundfile as sf

    from asrkit.data.specifier import MatrixWriter

    with pytest.raises(OSError) as e:
        with MatrixWriter("ark:/dev/full") as w:
            for i in range(2000):
                w.write(f"utt{i:05d}", np.ones((20, 40), np.float32))
    assert e.value.filename == "/dev/full"
    sf.write(tmp_path / "a.wav", np.zeros(8000, np.int16), 8000)
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\n")
    proc = asrkit("compute-fbank", "--sample-frequency", "8000", "scp:" + str(tmp_path / "wav.scp"), "ark:/dev/full",
                  check=False)
    assert _last_line(proc) == "ERROR (asrkit-compute-fbank): /dev/full: no space left on device"
