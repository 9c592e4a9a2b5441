import struct
import zlib

import numpy as np

from asrkit.training.plots import png_bytes, save_alignment_png


def _decode_png(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all() and depth == 8 and color == 2
    return rows[:, 1:].reshape(h, w, 3)


def test_png_roundtrip():
    img = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert (_decode_png(png_bytes(img)) == img).all()


def test_alignment_png(tmp_path):
    att = np.eye(6, 20)  # a diagonal alignment: 6 tokens x 20 frames
    save_alignment_png(tmp_path / "a.png", att)
    img = _decode_png((tmp_path / "a.png").read_bytes())
    assert img.shape[0] >= 6 and img.shape[1] >= 20
    sy, sx = img.shape[0] // 6, img.shape[1] // 20
    assert img[0, 0].sum() > img[0, sx].sum()  # attended cell brighter (yellow) than the rest (dark)
    assert list(tmp_path.iterdir()) == [tmp_path / "a.png"]  # written atomically, no temp left


def test_plot_file_name_stays_one_file_in_the_plots_dir():
    # An utterance id is any string without whitespace: a dev id "../../x" wrote its plot
    # outside the exp dir, "spk/u1" into a subdirectory, and one over 255 bytes failed on
    # ENAMETOOLONG.
    from asrkit.training.plots import plot_file_name

    assert plot_file_name("u1", 3) == "u1.epoch3.png"
    names = [plot_file_name(u, 1) for u in ("../../../x", "spk/u1", "..", ".hidden", "a%2Fb", "é" * 300,
                                            "é" * 300 + "z")]
    for name in names:
        assert "/" not in name and not name.startswith(".") and len(name.encode()) <= 200, name
    assert len(set(names)) == len(names)  # "a%2Fb" is not "a/b", two long ids are two files
    assert plot_file_name("spk/u1", 1) == "spk%2Fu1.epoch1.png"
