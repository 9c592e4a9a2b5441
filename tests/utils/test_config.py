"""The shared YAML-to-dataclass loader (asrkit.utils.config) on small stand-in config classes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml

from asrkit.utils.config import (ConfigError, Problem, Wording, errors_at_lines, from_dict, line_of, load_yaml_config,
                                 load_yaml_mapping, refusal, to_dict, without_keys)
from asrkit.utils.errors import AsrkitError


@dataclass
class Inner:
    size: int = 4
    rate: float = 0.5
    sizes: List[int] = field(default_factory=lambda: [1, 2])

    def __post_init__(self) -> None:
        if isinstance(self.sizes, list) and not self.sizes:
            raise ConfigError("inner.sizes must not be empty", ["sizes"])


@dataclass
class Outer:
    name: str = "x"
    flag: bool = False
    betas: Tuple[float, float] = (0.9, 0.98)
    inner: Inner = field(default_factory=Inner)
    extra: Optional[Inner] = None
    free: Dict[str, Any] = field(default_factory=dict)
    maybe: Optional[int] = None


def test_defaults_nested_and_round_trip():
    assert from_dict(Outer, None) == Outer()
    cfg = from_dict(Outer, {"name": "y", "flag": True, "betas": [0.8, 1], "inner": {"size": 8},
                            "extra": {}, "free": {"a": [1]}, "maybe": 3})
    assert cfg == Outer(name="y", flag=True, betas=(0.8, 1.0), inner=Inner(size=8), extra=Inner(),
                        free={"a": [1]}, maybe=3)
    assert isinstance(cfg.betas, tuple) and isinstance(cfg.betas[1], float)
    d = to_dict(cfg)
    assert d["betas"] == [0.8, 1.0] and d["inner"] == {"size": 8, "rate": 0.5, "sizes": [1, 2]}
    assert from_dict(Outer, yaml.safe_load(yaml.safe_dump(d))) == cfg
    assert from_dict(Outer, {"inner": None, "extra": None}) == Outer()  # an empty YAML section: defaults


def test_yaml_scalars_that_are_unambiguous_are_coerced():
    cfg = from_dict(Outer, yaml.safe_load("flag: 'TRUE'\ninner: {size: 8.0, rate: 1e-3}\nmaybe: '1e3'\n"))
    assert cfg.flag is True and cfg.inner.size == 8 and cfg.inner.rate == 1e-3 and cfg.maybe == 1000
    assert isinstance(cfg.inner.size, int) and isinstance(cfg.inner.rate, float)


def test_unknown_key_names_it_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"^conf/x.yaml: unknown key 'nmae' \(known: name, flag, betas, "):
        from_dict(Outer, {"nmae": "y"}, "conf/x.yaml")
    with pytest.raises(ConfigError, match=r"^conf/x.yaml: inner: unknown keys 'a', 'b' \(known: size, rate, sizes\)$"):
        from_dict(Outer, {"inner": {"a": 1, "b": 2}}, "conf/x.yaml")
    with pytest.raises(ConfigError, match=r"^model\.inner: unknown option\(s\) zz"):
        from_dict(Outer, {"inner": {"zz": 1}}, path="model",
                  wording=Wording(unknown="{where}: unknown option(s) {keys} (known: {known})"))


@pytest.mark.parametrize("d, message", [
    ({"flag": 1}, "c.yaml: flag: expected true or false, got 1"),
    ({"flag": "yes"}, "c.yaml: flag: expected true or false, got 'yes'"),
    ({"name": 5}, "c.yaml: name: expected a string, got 5"),
    ({"inner": {"size": 2.5}}, "c.yaml: inner.size: expected int, got 2.5"),
    ({"inner": {"size": True}}, "c.yaml: inner.size: expected int, got True"),
    ({"inner": {"rate": "fast"}}, "c.yaml: inner.rate: expected float, got 'fast'"),
    ({"inner": {"sizes": [1, "a"]}}, "c.yaml: inner.sizes[1]: expected int, got 'a'"),
    ({"inner": {"sizes": 3}}, "c.yaml: inner.sizes: expected a list, got 3"),
    ({"inner": [1]}, "c.yaml: inner: expected a mapping, got [1]"),
    ({"betas": [0.9]}, "c.yaml: betas: expected a list of 2, got [0.9]"),
    ({"free": "x"}, "c.yaml: free: expected a mapping, got 'x'"),
    ({"maybe": "many"}, "c.yaml: maybe: expected int, got 'many'"),
    # NaN and infinity pass "> 0" checks: no option means anything by them
    ({"inner": {"rate": "nan"}}, "c.yaml: inner.rate: expected a finite number, got 'nan'"),
    ({"inner": {"rate": float("inf")}}, "c.yaml: inner.rate: expected a finite number, got inf"),
    ({"betas": [0.9, "-inf"]}, "c.yaml: betas[1]: expected a finite number, got '-inf'"),
    # an int past any float (10**400 for a float option) was an OverflowError traceback
    ({"inner": {"rate": 10 ** 400}}, f"c.yaml: inner.rate: expected a finite number, got {10 ** 400}"),
    ({"betas": [0.9, -10 ** 400]}, f"c.yaml: betas[1]: expected a finite number, got {-10 ** 400}"),
])
def test_type_errors_name_where_and_key(d, message):
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, d, "c.yaml")
    assert str(e.value) == message
    assert isinstance(e.value, AsrkitError) and isinstance(e.value, ValueError)


def test_the_class_own_checks_run_and_are_located():
    with pytest.raises(ConfigError, match=r"^c.yaml: inner: inner.sizes must not be empty$"):
        from_dict(Outer, {"inner": {"sizes": []}}, "c.yaml")


def test_wording_and_key_normalization():
    wording = Wording(unknown="{where}: unknown thing {quoted}", key="{where}: option {key!r}",
                      expected={int: "a number (int)"})
    dashed = lambda k: str(k).replace("-", "_")  # noqa: E731
    assert from_dict(Inner, {"size": 3}, normalize_key=dashed) == Inner(size=3)
    with pytest.raises(ConfigError, match=r"^f: option 'size': expected a number \(int\), got 'x'$"):
        from_dict(Inner, {"size": "x"}, "f", wording=wording, normalize_key=dashed)
    with pytest.raises(ConfigError, match="^f: unknown thing 'si-ze'$"):
        from_dict(Inner, {"si-ze": 3}, "f", wording=wording)
    with pytest.raises(ConfigError, match="'rate' and 'RATE' are the same option"):
        from_dict(Inner, {"rate": 1, "RATE": 2}, "f", normalize_key=str.lower)


def test_load_yaml_mapping_errors_name_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    with pytest.raises(ConfigError, match=f"^{p}: no such file$"):
        load_yaml_mapping(p)
    p.write_text("")
    assert load_yaml_mapping(p) == {}
    p.write_text("a: 1\nb: [1, 2\n")
    with pytest.raises(ConfigError, match=f"^{p}:3: not valid YAML: expected ',' or ']'"):
        load_yaml_mapping(p)
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=f"^{p}: expected a mapping of decoding options, got list$"):
        load_yaml_mapping(p, "decoding options")
    p.write_bytes(b"a: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml_mapping(p)
    with pytest.raises(ConfigError, match="is a directory"):
        load_yaml_mapping(tmp_path)
    p.write_text("inner: {size: 2}\n")
    assert from_dict(Outer, load_yaml_mapping(p), str(p)).inner.size == 2
    # a key given twice: PyYAML kept the last silently (a section pasted twice replaced the first)
    p.write_text("inner: {size: 2}\nname: x\ninner: {size: 3}\n")
    with pytest.raises(ConfigError, match=f"^{p}:3: not valid YAML: key 'inner' given twice \\(first on line 1\\)$"):
        load_yaml_mapping(p)
    p.write_text("inner:\n  size: 2\n  size: 3\n")
    with pytest.raises(ConfigError, match="^.*:3: not valid YAML: key 'size' given twice"):
        load_yaml_mapping(p)
    # the strict loader is a SafeLoader: a tag that would run code on loading is refused, and runs nothing
    marker = tmp_path / "pwned"
    p.write_text(f'inner: {{size: !!python/object/apply:os.system ["touch {marker}"]}}\n')
    with pytest.raises(ConfigError, match=f"^{p}:1: not valid YAML: could not determine a constructor for the tag "
                                          f"'tag:yaml.org,2002:python/object/apply:os.system'"):
        load_yaml_mapping(p)
    assert not marker.exists()
    # YAML's merge keys still work, and a key beside a merge overrides the merged one
    p.write_text("base: &b {size: 2, x: 1}\ninner:\n  <<: *b\n  size: 5\n")
    assert load_yaml_mapping(p)["inner"] == {"size": 5, "x": 1}


def _laughs(key: str, levels: int = 9) -> str:
    """A 'billion laughs' document: ``key`` holds lists of nine aliases to the list before, 9**levels values."""
    text = f"{key}: [ &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
    for k in range(1, levels):
        text += f", &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]"
    return text + "]\n"


def test_alias_bombs_and_deep_nesting_are_refused_at_once(tmp_path):
    """Aliases load as shared objects in a moment, but the error message's repr of the value (an int
    expected, a list of 9**9 strings found) ran out of memory and time (killed after minutes); a
    document nested 20000 deep was a RecursionError traceback."""
    import time

    p = tmp_path / "c.yaml"
    for doc in (_laughs("inner"), "inner:\n  sizes: " + _laughs("x").split(": ", 1)[1], "a: &a [*a]\n"):
        p.write_text(doc)
        # (CPU time: what the expansion cost, minutes of it; wall time followed the machine's load)
        start = time.process_time()
        with pytest.raises(ConfigError, match=f"^{p}: its aliases \\(\\*name\\) expand to more than 100,000 values"):
            load_yaml_mapping(p)
        assert time.process_time() - start < 5
    p.write_text("inner: {sizes: " + "[" * 20000 + "]" * 20000 + "}\n")
    with pytest.raises(ConfigError, match=f"^{p}: not valid YAML for a config: nested too deeply$"):
        load_yaml_mapping(p)
    # as many values without an alias: the same limit, but no talk of aliases (it named them for 200,000 keys)
    p.write_text("inner: {sizes: [" + ",".join(["1"] * 100_001) + "]}\n")
    with pytest.raises(ConfigError) as e:
        load_yaml_mapping(p)
    assert str(e.value) == f"{p}: holds more than 100,000 values, more than any config holds (a data file?)"
    # aliases that stay small still work (the merge keys above, a list used twice)
    p.write_text("l: &l [1, 2]\nm: [*l, *l]\n")
    assert load_yaml_mapping(p) == {"l": [1, 2], "m": [[1, 2], [1, 2]]}


def test_a_required_field_missing_is_named():
    @dataclass
    class Needs:
        path: str
        n: int = 1

    with pytest.raises(ConfigError, match="^c: missing path$"):
        from_dict(Needs, {"n": 2}, "c")


def test_non_finite_names_the_fields_set_without_from_dict():
    """What a config's validate() uses for values a command line sets directly."""
    from asrkit.decoding.config import DecodeConfig
    from asrkit.features.fbank import FbankConfig
    from asrkit.utils.config import non_finite

    assert non_finite(Inner(rate=float("nan"))) == ["rate must be a finite number, got nan"]
    assert non_finite(Inner()) == []
    cfg = DecodeConfig()
    cfg.penalty = float("nan")  # as asrkit-decode --penalty nan sets it
    with pytest.raises(AsrkitError, match=r"^options: penalty must be a finite number, got nan$"):
        cfg.validate("options")
    with pytest.raises(AsrkitError, match=r"sample_frequency must be a finite number, got inf"):
        FbankConfig(sample_frequency=float("inf"))


def test_a_bad_beam_is_named_alone():
    """--beam -3 was also reported as "nbest must be in [1, beam], got 1": nbest was right, the beam
    was not, and the second message sent the user after the wrong option."""
    from asrkit.decoding.config import DecodeConfig

    cfg = DecodeConfig()
    cfg.beam = -3
    with pytest.raises(AsrkitError, match=r"^options: beam must be >= 1, got -3$"):
        cfg.validate("options")
    cfg.beam, cfg.nbest = 2, 3
    with pytest.raises(AsrkitError, match=r"^options: nbest must be in \[1, beam\], got 3$"):
        cfg.validate("options")
    cfg.mode, cfg.beam = "greedy", 10  # the greedy search keeps one hypothesis: 3 asked, 1 given silently
    with pytest.raises(AsrkitError, match=r"^options: nbest must be 1 with mode greedy \(one hypothesis\), got 3$"):
        cfg.validate("options")


def test_an_endless_file_is_not_read_whole_as_yaml(tmp_path):
    """/dev/zero as --config was read whole (a MemoryError traceback); a large file is no config."""
    with pytest.raises(ConfigError, match=r"^/dev/zero: over 16 MiB, not a YAML config"):
        load_yaml_mapping("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * (16 << 20))
    with pytest.raises(ConfigError, match="big.yaml: over 16 MiB"):
        load_yaml_mapping(big)
    big.write_bytes(b"a: 1\n" + b"#" * 1000)
    assert load_yaml_mapping(big) == {"a": 1}


@pytest.mark.parametrize("value, problem", [
    ("!!int abc", "'abc' is not a valid !!int value"),
    ("!!int ''", "'' is not a valid !!int value"),
    ("!!float ''", "'' is not a valid !!float value"),
    ("!!bool maybe", "'maybe' is not a valid !!bool value"),
    ("!!timestamp soon", "'soon' is not a valid !!timestamp value"),
    ("!!map x", "expected a mapping node, but found scalar"),
    ("9" * 5000, "a number of 5000 digits (99999999999999999999...), longer than any option takes"),
    # every check quotes what it refuses: a value of a megabyte was a one-line error of a megabyte
    ("a" * 5000, "a string of 5000 characters ('aaaaaaaaaaaaaaaaaaaa'...), longer than any option takes"),
])
def test_a_value_no_constructor_reads_is_a_yaml_error_at_its_line(tmp_path, value, problem):
    """PyYAML's constructors take an explicit tag on trust: `!!int abc`, `!!float ''`, `!!bool maybe`
    and `!!timestamp soon` were a ValueError, IndexError, KeyError or AttributeError traceback from
    every command's --config (and --set); so was a number of more digits than int() reads."""
    p = tmp_path / "c.yaml"
    p.write_text(f"inner:\n  size: {value}\n")
    with pytest.raises(ConfigError) as e:
        load_yaml_mapping(p)
    assert str(e.value) == f"{p}:2: not valid YAML: {problem}"
    p.write_text("inner:\n  size: !!int 12\n")  # a tag that fits its value still reads
    assert load_yaml_mapping(p) == {"inner": {"size": 12}}


def test_a_long_value_of_the_wrong_type_is_quoted_cut():
    """A list of 50,000 numbers given for an int was quoted whole in its one-line error."""
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, {"maybe": [7] * 50_000}, "c.yaml")
    assert str(e.value) == f"c.yaml: maybe: expected int, got {str([7] * 50_000)[:200]}... (50000 items)"
    with pytest.raises(ConfigError, match=r"^c.yaml: inner.size: expected int, got 'xxxxx*'\.\.\. \(4000 characters\)$"):
        from_dict(Outer, {"inner": {"size": "x" * 4000}}, "c.yaml")


def test_a_utf16_config_is_named_as_such(tmp_path):
    """A config saved as Windows Notepad's 'Unicode' was 'not UTF-8 text', which says nothing of
    what the file is or what to do."""
    p = tmp_path / "c.yaml"
    p.write_text("inner: {size: 2}\n", encoding="utf-16")
    with pytest.raises(ConfigError) as e:
        load_yaml_mapping(p)
    assert str(e.value) == (f"{p}: the file is UTF-16 (it starts with the byte-order mark FF FE, as Windows Notepad's "
                            f"'Unicode' saves it); configs are UTF-8 text: convert it (iconv -f UTF-16 -t UTF-8 {p} > "
                            f"{p}.utf8)")


def _load_located(path):
    """An Outer from YAML file ``path`` with errors at the line of the key at fault, as the
    commands' config loaders read theirs."""
    d, lines = load_yaml_config(path, "options")
    with errors_at_lines(str(path), lines):
        return from_dict(Outer, d, str(path))


@pytest.mark.parametrize("text, message", [
    ("name: y\n\ninner:\n  size: 4\n  rate: fast\n", "5: inner.rate: expected float, got 'fast'"),
    ("inner: {sizes: [1, a]}\n", "1: inner.sizes[1]: expected int, got 'a'"),
    ("# a comment\nname: y\nnmae: z\n", "3: unknown key 'nmae' (known: name, flag, betas, "),
    ("inner:\n  size: 1\n  b: 2\n", "3: inner: unknown key 'b' (known: size, rate, sizes)"),
    ("name: y\ninner:\n  sizes: []\n", "3: inner: inner.sizes must not be empty"),  # the class's own check
    ("inner: [1]\n", "1: inner: expected a mapping, got [1]"),
    # a key merged in (<<: *base) is at its line in the base; one given beside the merge at its own
    ("free: &b {size: x}\ninner:\n  <<: *b\n", "1: inner.size: expected int, got 'x'"),
    ("free: &b {size: 3}\ninner:\n  <<: *b\n  rate: z\n", "4: inner.rate: expected float, got 'z'"),
])
def test_value_errors_name_the_line_of_the_key_at_fault(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:{message}")):
        _load_located(path)


def test_an_error_naming_no_key_of_the_file_has_no_line():
    """A key left at its default, or an error that carries no key, have no line to name."""
    with pytest.raises(ConfigError, match=r"^c\.yaml: optim\.lr must be > 0$"):
        with errors_at_lines("c.yaml", {"name": 1}):
            raise ConfigError("c.yaml: optim.lr must be > 0", ["optim.lr"])
    with pytest.raises(ConfigError, match=r"^c\.yaml: name: bad$"):  # (its words name a key; it carries none)
        with errors_at_lines("c.yaml", {"name": 1}):
            raise ConfigError("c.yaml: name: bad")
    # the first of its keys that the file gives
    with pytest.raises(ConfigError, match=r"^c\.yaml:3: a; b$"):
        with errors_at_lines("c.yaml", {"x": 1, "b": 3}):
            raise refusal("c.yaml: ", [Problem("a", "a"), Problem("b", "b", "x")])
    assert line_of("optim.decay_over.budget", {"optim": 1, "optim.decay_over": 3}) == 3
    assert line_of("model.listener.vgg_channels[1]", {"model.listener.vgg_channels": 4}) == 4  # an item: its list's
    assert line_of("num_mel_bins", {"num-mel-bins": 2}) == 2  # Kaldi's dashed name
    # an error of another source (a --set) is left as it is
    with pytest.raises(ConfigError, match=r"^--set 'x=1': bad$"):
        with errors_at_lines("c.yaml", {"x": 1}):
            raise ConfigError("--set 'x=1': bad")
    assert without_keys({"a": 1, "a.b": 2, "ab": 3}, ["a"]) == {"ab": 3}


def test_the_lines_do_not_change_what_is_read(tmp_path):
    text = "free: &b {size: 3}\ninner:\n  <<: *b\n  rate: 0.25\nname: y\n"
    path = tmp_path / "c.yaml"
    path.write_text(text)
    d, lines = load_yaml_config(path)
    assert d == yaml.safe_load(text) == load_yaml_mapping(path)
    assert lines == {"free": 1, "free.size": 1, "inner": 2, "inner.size": 1, "inner.rate": 4, "name": 5}


def test_every_loader_names_the_line_of_a_key_yaml_reads_as_no_string(tmp_path):
    """'1: 2' is the key 1 beside the line of '1': the decoding options' loader, and the fbank
    options' under a command-line option, kept the lines of the values they kept ("if k in kept"),
    and so named no line for it, while asrkit-train's and asrkit-train-lm's named line 2."""
    from asrkit.decoding.config import DecodeConfig
    from asrkit.features.fbank import FbankConfig
    from asrkit.training.config import LMTrainConfig, load_config

    path = tmp_path / "c.yaml"
    path.write_text("# options\n1: 2\n")
    for load in (lambda: DecodeConfig.from_yaml(path), lambda: DecodeConfig.from_yaml(path, given={"beam": 5}),
                 lambda: FbankConfig.from_yaml(path), lambda: FbankConfig.from_options(path, {"num_mel_bins": 40}),
                 lambda: LMTrainConfig.load(str(path), {}), lambda: load_config(str(path))):
        with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:2: unknown ")):
            load()
    # (the lines of what a flag replaces are still dropped, Kaldi's dashed names too)
    assert without_keys({"num-mel-bins": 1, "beam": 2}, ["num_mel_bins"], lambda k: k.replace("-", "_")) == {"beam": 2}


def test_a_float_past_64_bits_is_no_int_option(tmp_path):
    """An int option given 1e300 took it as int(1e300), and the checks quoted that: 'listener.hidden
    must be at most 1000000, got 1000000000000000052504760255204420248704468581108...' (301 digits,
    none of them written). No option takes an int past 64 bits (training.seed's bound, the widest):
    such a float is refused as written, by the class's own check where it has one."""
    from asrkit.training.config import load_config

    with pytest.raises(ConfigError, match=r"^c\.yaml: inner\.size: expected an int \(at most 64 bits\), got 1e\+300$"):
        from_dict(Outer, {"inner": {"size": 1e300}}, "c.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml: inner\.sizes\[0\]: expected an int \(at most 64 bits\), got -1e\+19$"):
        from_dict(Outer, {"inner": {"sizes": [-1e19]}}, "c.yaml")
    assert from_dict(Inner, {"size": 5e18}).size == 5 * 10 ** 18  # within 64 bits: taken, as before
    path = tmp_path / "train.yaml"
    path.write_text("model:\n  listener:\n    hidden: 1e300\n")
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:3: model.listener: listener.hidden must be at most "
                                                          f"1000000, got 1e+300") + "$"):
        load_config(str(path))


def test_a_number_is_shown_as_the_config_wrote_it(tmp_path):
    """%g of 1e-320 (below the normal floats, a few digits of precision) is 9.99989e-321, which
    reads back as the same float but is not what the file says: 'optim.eps must be > 0 (...), got
    9.99989e-321'. A float is shown in %g, or as Python writes it where that is shorter or %g is
    another number (1234567.5 was 1.23457e+06)."""
    from asrkit.decoding.config import DecodeConfig
    from asrkit.features.fbank import FbankConfig
    from asrkit.training.config import load_config
    from asrkit.utils.config import number_text

    assert [number_text(x) for x in (1e-320, 1234567.5, 16000.0, 1e-05, 0.1, 1e300, 2.5e-8, float("nan"),
                                     float("-inf"), 10 ** 30, 7)] == \
        ["1e-320", "1234567.5", "16000", "1e-05", "0.1", "1e+300", "2.5e-08", "nan", "-inf", str(10 ** 30), "7"]
    path = tmp_path / "c.yaml"
    for text, load, end in (("optim: {eps: 1.0e-320}\n", lambda: load_config(str(path)), "got 1e-320"),
                            ("max_segment_s: 1.0e-320\n", lambda: DecodeConfig.from_yaml(path), "got 1e-320"),
                            ("vtln_warp: 1.0e-320\n", lambda: FbankConfig.from_yaml(path), "got 1e-320"),
                            ("sample_frequency: 1.0e-320\n", lambda: FbankConfig.from_yaml(path), "high_freq=0.0")):
        path.write_text(text)
        with pytest.raises(ConfigError) as e:
            load()
        assert str(e.value).endswith(end) and "99989e-321" not in str(e.value), str(e.value)
    assert "got 1e-320; " in str(e.value) and "<= 5e-321 (Nyquist)" in str(e.value)  # (half of it: 4.99994e-321)


def test_a_key_yaml_reads_as_a_bool_null_or_number_is_named_at_its_line(tmp_path):
    """'true: 1' is the key True, named so in the error ('unknown key True'), but its line was kept
    under the text 'true': no line (decoding, fbank options) or the section's (asrkit-train's
    'optim.True' at the line of 'optim:'). Likewise null and ~ (None), 0x10 (16) and 1.50 (1.5)."""
    from asrkit.decoding.config import DecodeConfig
    from asrkit.training.config import load_config

    for key, named in (("true", "True"), ("null", "None"), ("~", "None"), ("0x10", "16"), ("1.50", "1.5")):
        path = tmp_path / "c.yaml"
        path.write_text(f"beam: 4\n{key}: 1\n")
        with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:2: unknown key {named} ")):
            DecodeConfig.from_yaml(path)
        path.write_text(f"optim:\n  lr: 0.1\n  {key}: 1\n")
        with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:3: unknown key 'optim.{named}' ")):
            load_config(str(path))
        assert load_yaml_config(path)[1] == {"optim": 1, "optim.lr": 2, f"optim.{named}": 3}


def test_a_bool_given_a_number_is_refused_as_a_bool(tmp_path):
    """A class's own check speaks before a value's type error, and a bool passes its comparisons
    as 0 or 1: 'sample_frequency: true' was '... at least one sample (1000 ms at True Hz)' (at 1
    Hz before that), 'sample_frequency: false' 'must be > 0, got False', 'num_mel_bins: true' 'must
    be >= 4, got True', while 'dither: true' was 'expected float, got True'. A bool for a number is
    refused as the bool it is, as every other option's is."""
    from asrkit.features.fbank import FbankConfig

    path = tmp_path / "fbank.yaml"
    for key, value, kind in (("sample_frequency", "true", "float"), ("sample_frequency", "false", "float"),
                             ("frame_length", "true", "float"), ("high_freq", "true", "float"),
                             ("blackman_coeff", "true", "float"), ("num_mel_bins", "true", "int")):
        path.write_text(f"dither: 0\n{key}: {value}\n")
        with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:2: option '{key}': expected {kind}, got "
                                                              f"{value.title()}") + "$"):
            FbankConfig.from_yaml(path)
    # (the class's check still speaks first for a value it reads: a list of the wrong length)
    with pytest.raises(ConfigError, match=r"^c\.yaml: inner: inner\.sizes must not be empty$"):
        from_dict(Outer, {"inner": {"sizes": [], "size": "x"}}, "c.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml: inner\.size: expected int, got True$"):
        from_dict(Outer, {"inner": {"sizes": [], "size": True}}, "c.yaml")


def test_a_float_of_the_least_64_bit_int_is_an_int_option():
    """The refusal of a float past 64 bits took 'at most 64 bits' for |x| < 2**63, and so refused
    -2**63 written as a float, which training.seed takes (-2**63 <= seed < 2**63) and which was
    taken before; 2**63 itself is past them."""
    from asrkit.training.config import load_config

    assert load_config(None, ["training.seed=-9.223372036854775808e18"]).training.seed == -2 ** 63
    with pytest.raises(ConfigError, match=r"training\.seed: expected an int \(at most 64 bits\), got 9\.2"):
        load_config(None, ["training.seed=9.223372036854775808e18"])
