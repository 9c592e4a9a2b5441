"""asrkit-make-data-dir and files whose extension sox's 'sox -h' list lacks but which it reads by
their content (a .wave or .rf64 WAV, an .oga Ogg Vorbis): the list alone refused them."""
from __future__ import annotations

import soundfile
from cli_checks import run_asrkit_in_process
from debian_packages import require_program

from asrkit.data.from_audio import make_data_dir
from asrkit.data.sox import sox_formats
from asrkit.data.table import read_table


def test_files_sox_reads_by_content_are_converted(yesno_root, tmp_path, asrkit):
    """'--sample-rate 16000' on .wave/.oga/.rf64 files was "the installed sox cannot read *.oga,
    *.rf64, *.wave", though every 'sox <file> -t wav -r 16000 ... |' pipe works."""
    require_program("sox")
    sox_formats.cache_clear()
    if {"wave", "oga", "rf64"} <= (sox_formats() or {"wave", "oga", "rf64"}):
        import pytest
        pytest.skip("this sox lists the three extensions: nothing to read by content")
    samples, rate = soundfile.read(sorted(yesno_root.rglob("*.wav"))[0], dtype="int16")
    audio = tmp_path / "audio"
    audio.mkdir()
    for name, fmt in (("a.wave", "WAV"), ("b.oga", "OGG"), ("c.rf64", "RF64")):
        soundfile.write(audio / name, samples, rate, format=fmt)
        (audio / f"{name.split('.')[0]}.txt").write_text("NO YES\n")
    report = make_data_dir(audio, tmp_path / "data", extensions=["wave", "oga", "rf64"], sample_rate=16000)
    assert report.num_utts == 3
    assert all(v.startswith("sox ") for v in read_table(tmp_path / "data/wav.scp").values())
    # (in this process: a subprocess would import torch for it, 2-3 s CPU)
    run_asrkit_in_process("compute-fbank", f"scp:{tmp_path}/data/wav.scp", f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp")
    assert len(read_table(tmp_path / "f.scp")) == 3
