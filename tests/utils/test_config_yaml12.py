"""Config YAML's plain scalars follow YAML 1.2's core schema, not PyYAML's YAML 1.1.

Under 1.1 ``max_epochs: 010`` trained 8 epochs (octal), ``seed: 1:30`` was 90 (base 60),
``1_000`` was 1000, ``0b11`` was 3 and ``lang: no`` was False, all with exit 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from asrkit.training.config import load_config
from asrkit.utils.config import ConfigError, from_dict, load_yaml_mapping, parse_yaml


@dataclass
class Opts:
    count: int = 1
    flag: bool = False
    name: str = "x"
    rate: float = 0.5


@pytest.mark.parametrize("text, value", [
    ("10", 10), ("-12", -12), ("+3", 3), ("0", 0), ("-0", 0), ("0o17", 15), ("0x1F", 31),
    ("1e-3", 1e-3), ("1e5", 1e5), (".5", 0.5), ("1.", 1.0), ("-.Inf", float("-inf")),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("~", None), ("null", None),
    # YAML 1.1 numbers and booleans that 1.2 leaves strings
    ("1:30", "1:30"), ("0b11", "0b11"), ("1_000", "1_000"), ("190:20:30.15", "190:20:30.15"),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
    ("=", "="),  # YAML 1.1's value tag: SafeLoader had no constructor for it
    # YAML 1.1 timestamps (a date-named file, a tag) that 1.2 leaves strings
    ("2026-01-01", "2026-01-01"), ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
])
def test_plain_scalars_resolve_as_yaml_1_2_core(text, value):
    got = parse_yaml(f"k: {text}\n", "c.yaml")["k"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", ["010", "-007", "00", "08"])
def test_a_leading_zero_is_refused_naming_key_and_line(tmp_path, text):
    """010 is 8 to YAML 1.1 and 10 to 1.2: either guess is a silent surprise to someone."""
    p = tmp_path / "c.yaml"
    p.write_text(f"training:\n  seed: 1\n  max_epochs: {text}\n")
    with pytest.raises(ConfigError, match=rf"^{p}:3: not valid YAML: key 'max_epochs': {text} has a leading zero "
                                          rf"\(.* to YAML 1\.1, -?\d+ to YAML 1\.2\): write -?\d+, or 0o\.\.\. for octal$"):
        load_yaml_mapping(p)
    with pytest.raises(ConfigError, match=rf"^--set x: value:1: not valid YAML: {text} has a leading zero"):
        parse_yaml(f"[1, {text}]", "--set x: value")
    p.write_text(f"k: '{text}'\n")  # quoted, it is the string written
    assert load_yaml_mapping(p) == {"k": text}


@pytest.mark.parametrize("text, kind", [
    ("1:30", "count"), ("0b11", "count"), ("1_000", "count"), ("1_000.5", "rate"), ("yes", "flag"), ("off", "flag")])
def test_yaml_1_1_forms_are_refused_by_the_type_check_naming_the_key(text, kind):
    d = parse_yaml(f"{kind}: {text}\n", "c.yaml")
    with pytest.raises(ConfigError, match=rf"^c\.yaml: {kind}: expected .*, got '{text}'$"):
        from_dict(Opts, d, "c.yaml")


def test_yes_no_on_off_stay_the_strings_written_where_a_string_is_expected():
    for word in ("no", "yes", "on", "off", "y", "n", "NO"):
        assert from_dict(Opts, parse_yaml(f"name: {word}\n", "c.yaml")).name == word
    assert from_dict(Opts, parse_yaml("flag: True\ncount: 0x10\n", "c.yaml")) == Opts(count=16, flag=True)


def test_a_date_like_value_of_a_string_field_is_kept_as_written():
    # (was datetime.date, refused by the type check: "expected a string")
    assert from_dict(Opts, parse_yaml("name: 2026-01-01\n", "c.yaml"), "c.yaml").name == "2026-01-01"


def test_train_config_file_and_set_values(tmp_path):
    p = tmp_path / "train.yaml"
    p.write_text("training:\n  seed: 1:30\n")
    with pytest.raises(ConfigError, match=r"training\.seed: expected .*int.*, got '1:30'$"):
        load_config(str(p))
    p.write_text("training:\n  max_epochs: 010\n")
    with pytest.raises(ConfigError, match=r":2: not valid YAML: key 'max_epochs': 010 has a leading zero"):
        load_config(str(p))
    with pytest.raises(ConfigError, match=r"training\.amp: expected true or false, got 'no'$"):
        load_config(None, ["training.amp=no"])
    assert load_config(None, ["training.max_epochs=12", "training.amp=False"]).training.max_epochs == 12


def test_print_config_reads_back_to_the_same_config(tmp_path):
    """What --print-config prints (dump_config: yaml.safe_dump, YAML 1.1 quoting) loads back to the same values."""
    from asrkit.training.config import dump_config

    cfg = load_config(None, ["training.max_epochs=7", "optim.lr=1e-5"])
    p = tmp_path / "printed.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(str(p)).to_dict() == cfg.to_dict()
    # the values whose YAML 1.1 and 1.2 readings differ survive a dump and load as what they were
    values = {"a": "no", "b": "1:30", "c": "010", "d": 8, "e": True, "f": "1_000", "g": 1e-5, "h": "0b11"}
    assert parse_yaml(yaml.safe_dump(values), "dump") == values


def test_dump_yaml_quotes_what_either_yaml_version_would_misread():
    """yaml.safe_dump quotes by YAML 1.1's rules: the string '1e5' or '0o17' came out plain and
    read back as a number."""
    from asrkit.utils.config import dump_yaml

    values = {"a": "0o17", "b": "1e5", "c": "010", "d": "yes", "e": "1:30", "f": 1e-5, "g": True, "h": "TRUE",
              "i": 10, "j": float("inf"), "k": None, "l": "x", "m": [1, "2e3"], "n": "0x1F", "o": "=", "p": ".5"}
    text = dump_yaml(values, sort_keys=False)
    assert parse_yaml(text, "dump") == values
    assert yaml.safe_load(text) == values  # and a YAML 1.1 reader reads the same
    assert parse_yaml(yaml.safe_dump({"b": "1e5"}), "dump") == {"b": 1e5}  # why the callers should use it
    assert yaml.safe_load("a: no") == {"a": False}  # PyYAML's own loader is left as it was
