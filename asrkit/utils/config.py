"""Configs are dataclasses loaded from YAML: the one loader behind every ``from_dict``/``from_yaml``.

A config class declares its options as typed dataclass fields with defaults; this module turns a
YAML mapping into an instance of it::

    d = load_yaml_mapping("conf/decode.yaml", "decoding options")   # {} for an empty file
    cfg = from_dict(DecodeConfig, d, "conf/decode.yaml")
    yaml.safe_dump(to_dict(cfg))                                   # reads back to cfg

What ``from_dict`` guarantees, so that a typo never silently trains or decodes something else:

- an unknown key is an error naming it and the known ones;
- each value is brought to the field's type hint where that is unambiguous (``lr: 1e-3`` is a
  str in YAML 1.1, ``8000`` for a float field, ``'true'`` for a bool) and is an error naming
  ``where: key`` otherwise: bools are ``true``/``false`` only (never 1 or "yes"), and a bool is
  no number or string (``sample_frequency: true`` is refused as the bool it is, before a class's
  own check could take it for 1), ints must be
  whole numbers (a float past 64 bits, 1e300, is none), strings must be strings; ``Optional``,
  ``List``/``Tuple`` (elements checked, fixed-size tuples by length), ``Dict`` (a mapping) and
  nested dataclasses (a sub-mapping, ``None`` meaning all defaults) are followed;
- the class's own checks (``__post_init__``) run, and their ValueError/AsrkitError is reported
  with the location in front.

Errors are :class:`ConfigError`, an AsrkitError (a command prints it as one line and exits 1)
that is also a ValueError (what model code and its callers have always caught). A config read
from a file names the line of the key at fault (``conf/train.yaml:12: optim.lr: ...``): the
loader keeps each key's line beside the plain mapping (:func:`load_yaml_config`), and the
command's loader puts it into the error (:func:`errors_at_lines`); :func:`read_config_file` does
both for the commands' loaders, less the keys their command-line options replaced.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import re
import typing
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Type, TypeVar, Union

from asrkit.utils.errors import SHOWN_MAX, AsrkitError, shown
from asrkit.utils.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


class ConfigError(AsrkitError, ValueError):
    """A config value, key or file that cannot be loaded; the message names where.

    ``keys``: the dotted keys the error is about, the one at fault first, so that
    :func:`errors_at_lines` names the line of the first one the file gives. A class's own check
    names them from the class (``hidden``); :func:`from_dict` puts the section's path in front
    (``model.listener.hidden``). Set where the check knows them: read back from the message's
    words, a message that named a key at another depth, or two keys, got a wrong line or none.
    ``problems``: those it reports, where a check found several (:func:`refusal`), so that an
    error of a file and command-line options together can tell which of them are the file's own.
    """

    def __init__(self, message: str, keys: Iterable[str] = (), problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.keys: Tuple[str, ...] = tuple(keys)
        self.problems: Tuple[str, ...] = tuple(problems)


class UnknownKeysError(ConfigError):
    """Keys the config class does not have. ``names``: each one dotted with its position
    (``model.listener.hiden``); ``where``: the source given to :func:`from_dict`. A reader of a
    file asrkit wrote (a packed model) words it as a newer asrkit's, not as a typo."""

    def __init__(self, message: str, names: List[str], where: str) -> None:
        super().__init__(message, names)
        self.names, self.where = names, where


class SettingError(AsrkitError):
    """A config value refused once a run is under way (the training processes' checks against
    this machine or the data: batching.num_workers, augment.noise_scp, batching.max_frames), by a
    check that knows its dotted ``keys`` (as :class:`ConfigError`'s) but not where the value was
    given: the run's :func:`errors_where_given` puts that in front, as a loader's error has it."""

    def __init__(self, message: str, keys: Iterable[str]) -> None:
        super().__init__(message)
        self.keys: Tuple[str, ...] = tuple(keys)


class Problem(str):
    """One problem a config's check found, as its message words it, with the dotted ``keys`` it is
    about (as :class:`ConfigError`'s): checks that report several problems in one message
    (``a; b``) join them as strings, and :func:`refusal` keeps the keys."""

    keys: Tuple[str, ...]

    def __new__(cls, text: str, *keys: str) -> "Problem":
        problem = super().__new__(cls, text)
        problem.keys = keys
        return problem


def refusal(lead: str, problems: Iterable[str]) -> ConfigError:
    """The error of ``problems`` (each a :class:`Problem` or plain text naming no key), joined by
    ``; `` after ``lead`` (``where: ``), with the keys of the problems in their order."""
    problems = list(problems)
    keys = [k for p in problems for k in getattr(p, "keys", ())]
    return ConfigError(lead + "; ".join(problems), dict.fromkeys(keys), problems)


# How a value error names the expected type; Wording.expected overrides entries.
EXPECTED: Dict[type, str] = {bool: "true or false", int: "int", float: "float", str: "a string",
                             list: "a list", dict: "a mapping"}


@dataclasses.dataclass(frozen=True)
class Wording:
    """How one config family words its errors (some messages are documented and tested as is).

    ``unknown`` is formatted with ``where`` (the mapping's location: source and path),
    ``source`` (the source alone), ``s`` ("s" for several), ``quoted`` (the unknown keys as
    reprs), ``dotted`` (their reprs with the path in front: ``'model.listner'``), ``keys`` (as
    written) and ``known`` (the field names).
    ``key`` names a key in a value error, formatted with ``where`` and ``key`` (as written);
    None gives ``where: section.key``.
    """

    unknown: str = "{where}: unknown key{s} {quoted} (known: {known})"
    key: Optional[str] = None
    expected: Mapping[type, str] = dataclasses.field(default_factory=dict)


DEFAULT = Wording()


def written_by_newer(file: str, e: UnknownKeysError, what: str = "model") -> ConfigError:
    """The error for keys unknown to this asrkit in a file asrkit itself wrote (a packed model, an
    LM): nobody typed them, so they are not a typo but options a newer asrkit added. "damaged
    asrkit model: model: unknown option(s) ..." sent the user to retrain or inspect a sound file."""
    from asrkit import __version__

    names = ", ".join(repr(f"{e.where}.{n}" if e.where else n) for n in e.names)
    return ConfigError(f"{file}: unknown {what} option{'s' if len(e.names) > 1 else ''} {names}: the {what} was "
                       f"probably written by a newer asrkit than this one ({__version__}); upgrade asrkit to load it")


# The largest YAML file read: asrkit's configs are a few KB; a packed model's are not YAML.
MAX_YAML_BYTES = 16 << 20


def read_config_text(path: Union[str, Path], kind: str = "YAML config", limit: int = MAX_YAML_BYTES,
                     where: Optional[str] = None) -> str:
    """The text of config file ``path``, read whole to parse but not without end: /dev/zero given
    as a config was a MemoryError. Over ``limit`` bytes is a ConfigError naming ``where`` (default
    ``path``) as not a ``kind``; OSError and UnicodeDecodeError (whose ``.object`` holds the
    bytes, for a line number) are the caller's to word."""
    from asrkit.utils.fileio import open_read

    with open_read(path) as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ConfigError(f"{where or path}: over {limit >> 20} MiB, not a {kind} (a data or binary file?)")
    return raw.decode("utf-8")


def reads_stdin(path: Union[str, Path]) -> bool:
    """Whether config ``path`` is stdin: Kaldi's ``-``, or what a command turns it into (/dev/stdin)."""
    from asrkit.utils.fileio import names_stdin

    return str(path) == "-" or names_stdin(path)


def _stdin_is_a_file() -> bool:
    """Whether stdin is a regular file (``< conf.yaml``): an empty one is an empty config, as that
    file given by name is (a warning, every default), not a pipe whose writer failed."""
    import stat

    try:
        return stat.S_ISREG(os.fstat(0).st_mode)
    except OSError:
        return False


def yaml_source(path: Union[str, Path], command: str = "") -> str:
    """How errors name config ``path``: the file, or for stdin the option that reads it
    (``--config - (stdin)``), the last word of ``command`` (``asrkit-decode --config``)."""
    if not reads_stdin(path):
        return str(path)
    option = command.split()[-1] if command.strip() else ""
    return f"{option} - (stdin)" if option else "- (stdin)"


def load_yaml_mapping(path: Union[str, Path], what: str = "options", command: str = "") -> Dict[str, Any]:
    """The mapping at the top of a YAML file ({} for an empty file); errors name ``path``
    (:func:`load_yaml_config`, without the lines of its keys)."""
    return load_yaml_config(path, what, command)[0]


def load_yaml_config(path: Union[str, Path], what: str = "options",
                     command: str = "") -> Tuple[Dict[str, Any], Dict[str, int]]:
    """The mapping at the top of a YAML file ({} for an empty file) and the line of each key in it
    (dotted: ``optim.lr`` -> 12), for :func:`errors_at_lines`; errors name ``path``.

    ``-`` (or /dev/stdin) reads stdin, which errors name as the option of ``command`` that reads
    it (``asrkit-decode --config``: ``--config - (stdin)``, :func:`yaml_source`). Unlike a file, an
    empty stdin is refused: ``cat conf/decod.yaml | asrkit-decode --config - ...`` (cat failing)
    ran with every default at exit 0; and so is a terminal, where the run waited for typed YAML.
    """
    where = yaml_source(path, command)
    stdin = reads_stdin(path)
    if stdin:
        _refuse_unreadable_stdin(where, what, command)
    try:
        text = read_config_text("/dev/stdin" if stdin else path, where=where)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a YAML file") from None
    except UnicodeDecodeError as e:
        from asrkit.data.table import utf16_problem

        utf16 = utf16_problem(e.object[:2], "<stdin>" if stdin else str(path), "configs are")
        if utf16 is not None and _reads_as(e.object, "utf-16"):  # (binary that happens to start so is not)
            raise ConfigError(f"{where}: {utf16}") from None
        raise ConfigError(f"{where}: not UTF-8 text{' (audio or a model piped in?)' if stdin else ''}") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read: {e.strerror or e}") from None
    if stdin and not text.strip(" \t\n\r\x0b\x0c") and not _stdin_is_a_file():
        raise ConfigError(f"{where}: no data on stdin ({len(text)} bytes read): no {what} were piped in")
    d, lines = parse_yaml_lines(text, where)
    if d is None:
        if not text.strip():
            # A config cut short to nothing (a failed copy, a '>' for '>>') trained, decoded or
            # made features with every default and no word. One of only comments says it meant that.
            log.warning("%s: empty file: no %s, every setting takes its default", path, what)
        return {}, {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of {what}, got {type(d).__name__}")
    return d, lines


def _reads_as(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _refuse_unreadable_stdin(where: str, what: str, command: str) -> None:
    import sys

    if sys.stdin is None:  # started with it closed (<&-): descriptor 0 may since be a file this process opened
        raise ConfigError(f"{where}: stdin is closed")
    if os.isatty(0):
        pipe = f" (... | {command} - ...)" if command.strip() else ""
        raise ConfigError(f"{where}: stdin is a terminal, not {what}: pipe the YAML in{pipe} or give its file")


# No config holds more than a few hundred values. YAML's aliases can make a short document stand
# for billions (nine lists of nine aliases to the list before: "billion laughs"): it loads in a
# moment as shared objects, but whatever walks or prints the values (the repr in an error
# message) then runs out of memory and time.
MAX_YAML_VALUES = 100_000


def parse_yaml(text: str, where: str, lines: bool = True) -> Any:
    """The value of a YAML document (``where`` names it in errors: a file, ``--set 'k=v'``).

    Read with the strict SafeLoader (no tags that build objects, no key given twice; numbers and
    booleans as YAML 1.2 reads them, a leading-zero number refused); an error is
    one line (``where:line: not valid YAML: problem``; without ``:line`` unless ``lines``), and a
    document whose aliases expand to more than :data:`MAX_YAML_VALUES` values is refused before
    anything walks it.
    """
    return parse_yaml_lines(text, where, lines)[0]


def parse_yaml_lines(text: str, where: str, lines: bool = True) -> Tuple[Any, Dict[str, int]]:
    """:func:`parse_yaml`'s value, and the line of each key of its mappings nested in mappings
    (dotted, ``optim.lr`` -> 12; a key merged in with ``<<: *base`` at its line in the base)."""
    import yaml  # here, not at the top: a command's --help should not load it

    try:
        # yaml.load's own steps, keeping the node tree whose marks hold the lines
        loader = _strict_loader()(text)
        try:
            node = loader.get_single_node()
            d = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None and lines else ""
        problem = getattr(e, "problem", None) or (str(e).splitlines() or [type(e).__name__])[0]
        context = getattr(e, "context", None)
        raise ConfigError(f"{where}{line}: not valid YAML: {problem}{f' ({context})' if context else ''}") from None
    except RecursionError:  # PyYAML's composer recurses once per level of nesting
        raise ConfigError(f"{where}: not valid YAML for a config: nested too deeply") from None
    size, shared = _expanded_size(d, MAX_YAML_VALUES)
    if size > MAX_YAML_VALUES:
        if not shared:  # (a long list or 200,000 keys, no alias in it: "its aliases expand" misled)
            raise ConfigError(f"{where}: holds more than {MAX_YAML_VALUES:,} values, more than any config holds "
                              f"(a data file?)")
        raise ConfigError(f"{where}: its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values, more than "
                          f"any config holds (a 'billion laughs' document?)")
    return d, _key_lines(node)


def _key_lines(node: Any) -> Dict[str, int]:
    """The line of each key of mapping ``node`` and of the mappings under it, by dotted path.

    Walked after the size check, so the aliases it follows stand for a bounded number of values;
    the constructor has already flattened each ``<<`` merge into the pairs, the merged ones first
    (a key given beside it comes later and wins, as in the value). A key YAML reads as no string
    is kept as the error names it, the text of what it reads as: ``true:`` under ``True`` (under
    ``true``, 'unknown key True' named no line), ``null:`` ``None``, ``0x10:`` ``16``."""
    import yaml

    lines: Dict[str, int] = {}
    constructor = _strict_loader()("")  # (a scalar needs no document to be read)

    def walk(n: Any, path: str) -> None:
        if not isinstance(n, yaml.MappingNode):
            return
        for key_node, value_node in n.value:
            if isinstance(key_node, yaml.ScalarNode):
                text = key_node.value if key_node.tag == "tag:yaml.org,2002:str" else \
                    str(constructor.construct_object(key_node))
                key = _dot(path, text)
                lines[key] = key_node.start_mark.line + 1
                walk(value_node, key)

    walk(node, "")
    return lines


def line_of(key: Optional[str], lines: Mapping[str, int]) -> Optional[int]:
    """The line of dotted ``key``, or of the nearest section holding it that the file gives (an
    item of a list, ``listener.vgg_channels[1]``, at its list's); Kaldi's dashed names
    (``num-mel-bins``) answer for their underscored field names."""
    if not key or not lines:
        return None
    plain = {k.replace("-", "_"): v for k, v in lines.items()}
    parts = re.sub(r"\[\d+\]", "", key).split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        line = lines.get(name, plain.get(name.replace("-", "_")))
        if line is not None:
            return line
    return None


@contextlib.contextmanager
def errors_at_lines(where: str, lines: Mapping[str, int]) -> Iterator[None]:
    """An error of the config read from ``where`` (a ConfigError whose message opens with
    ``where: ``) gets the line of the first of its keys the file gives, as a YAML syntax error
    has it: ``conf/train.yaml:12: optim.lr: expected a number (float), got 'abc'``. An error about
    no key of the file, or of a source other than ``where`` (a --set, the command line), is left
    as is. ``lines``: the file's keys (:func:`load_yaml_config`), less those a command line replaced."""
    try:
        yield
    except AsrkitError as e:
        message = str(e)
        if lines and message.startswith(f"{where}: "):
            rest = message[len(where) + 2:]
            line = next((n for n in (line_of(k, lines) for k in getattr(e, "keys", ())) if n is not None), None)
            if line is not None:
                e.args = (f"{where}:{line}: {rest}",)
        raise


@contextlib.contextmanager
def errors_where_given(given_at: Callable[[Iterable[str]], Optional[str]]) -> Iterator[None]:
    """A :class:`SettingError` raised inside names where its keys were given, ``given_at(keys)``
    (``conf/train.yaml:12``, ``--set 'batching.num_workers=100000'``; None for a default), in front
    of its message, as :func:`errors_at_lines` names a loaded file's errors."""
    try:
        yield
    except SettingError as e:
        where = given_at(e.keys)
        if where is not None:
            e.args = (f"{where}: {e}",)
        raise


def without_keys(lines: Mapping[str, int], keys: Iterable[str],
                 normalize_key: Optional[Callable[[str], str]] = None) -> Dict[str, int]:
    """``lines`` less dotted ``keys`` and what is under them: values another source replaced, whose
    errors are not at the file's line. ``normalize_key`` maps a key as written to the name ``keys``
    give (Kaldi's dashed names: ``num-mel-bins`` is replaced by ``num_mel_bins``)."""
    keys = list(keys)
    name = normalize_key or str
    return {k: v for k, v in lines.items() if not any(name(k) == g or name(k).startswith(g + ".") for g in keys)}


@dataclasses.dataclass(frozen=True)
class ConfigFile:
    """A command's config file as its loader reads it (:func:`read_config_file`): the loaders of
    asrkit-train's, asrkit-train-lm's, the decoding and the fbank options each take it from here,
    and state only what differs (what a command-line option replaces, how the values are built).

    ``values``: the file's mapping, whole; ``where``: how errors name the file (:func:`yaml_source`:
    the file, or the option that read stdin); ``lines``: the line of each key (dotted) but those a
    command-line option replaced, whose errors are not at the file's line; ``kept``: ``values``
    less the top-level keys an option replaced, which are then not read (``--beam 5`` over a file's
    ``beam: 0`` is no error)."""

    values: Dict[Any, Any]
    where: str
    lines: Dict[str, int] = dataclasses.field(default_factory=dict)
    kept: Dict[Any, Any] = dataclasses.field(default_factory=dict)

    def located(self) -> typing.ContextManager[None]:
        """An error of the file raised inside names the line of its key (:func:`errors_at_lines`)."""
        return errors_at_lines(self.where, self.lines)

    def raise_if_its_own(self, error: Exception, check: Callable[[Dict[Any, Any]], Any], error_where: str) -> None:
        """Raise the file's own error, at its line, where ``error``, the error of the values put
        together (its message opening with ``error_where`` where the file's opens with
        :attr:`where`), reports the problems of the file. Those are what ``check`` (which builds
        and checks a mapping of the file's, naming it :attr:`where`) finds in its :attr:`kept`
        values, so that no option's value brings them in, unless its values whole (with its own
        values for those the options replaced, not their defaults) are refused without them:
        'nbest: 15' under the file's 'beam: 20' is wrong only with --beam 5. (A whole file whose
        check stops at a value an option replaced, 'lr: 0' under --lr 0.01, says nothing of the
        rest.) Returns otherwise, the error being the combination's, for the caller to name. (A
        file's problem beside an option's was the combination's, named without the file's line:
        'options: beam must be >= 1, got 0; device must be ... (the options: ...')"""
        kept = _refusal(check, self.kept)
        if kept is None:
            return
        whole = kept if self.kept == self.values else _refusal(check, self.values)
        if not _without(whole, kept):
            own = kept
        elif whole is not None and _reports(kept, self.where, whole, self.where):
            own = whole  # (its problems, the kept values' too: max_segment_s: 0.5 beside that nbest)
        else:
            return
        if _reports(error, error_where, own, self.where):
            with self.located():
                raise own from None


def _refusal(check: Callable[[Dict[Any, Any]], Any], values: Dict[Any, Any]) -> Optional[AsrkitError]:
    """The error of ``check(values)``, or None where it passes."""
    try:
        check(values)
    except AsrkitError as e:
        return e
    return None


def _reports(error: Exception, error_where: str, own: Exception, own_where: str) -> bool:
    """Whether ``error`` (its message opening with ``error_where``) says what ``own`` (opening with
    ``own_where``) says: the same words, or all the problems it found (:attr:`ConfigError.problems`)
    among those of a check that reports every one."""
    mine = getattr(own, "problems", ())
    return (str(own)[len(own_where):] == str(error)[len(error_where):]
            or bool(mine) and set(mine) <= set(getattr(error, "problems", ())))


def _without(error: Optional[Exception], own: Exception) -> bool:
    """Whether ``error`` of a check is none, or reports problems (:attr:`ConfigError.problems`)
    without all of ``own``'s: the check went past them and did not find them. A single error
    (its check stopped there) says nothing of them."""
    if error is None:
        return True
    mine, theirs = getattr(own, "problems", ()), getattr(error, "problems", ())
    return bool(mine) and bool(theirs) and not set(mine) <= set(theirs)


def read_config_file(path: Union[str, Path], what: str, command: str = "", replaced: Iterable[str] = (),
                     normalize_key: Optional[Callable[[Any], str]] = None) -> ConfigFile:
    """Config file ``path`` (:func:`load_yaml_config`: ``what`` and ``command`` word its errors) for
    a loader whose command line replaced the dotted keys ``replaced`` (``optim.lr``, ``beam``);
    ``normalize_key`` maps a key as written to the name ``replaced`` gives (Kaldi's dashed names)."""
    values, lines = load_yaml_config(path, what, command)
    replaced = set(replaced)
    name = normalize_key or (lambda key: key)
    return ConfigFile(values, yaml_source(path, command), without_keys(lines, replaced, normalize_key),
                      {k: v for k, v in values.items() if name(k) not in replaced})


def _expanded_size(obj: Any, limit: int) -> Tuple[int, bool]:
    """How many values ``obj`` stands for with every alias written out, counted up to just past
    ``limit``, and whether a list or mapping was met twice (an alias to it).

    Each distinct list or mapping is sized once (``memo``), so this takes the time of the document,
    not of its expansion; one that contains itself counts as over the limit.
    """
    memo: Dict[int, int] = {}
    shared = False

    def size(x: Any) -> int:
        nonlocal shared
        if not isinstance(x, (list, dict)):
            return 1
        if id(x) in memo:
            shared = True
            return memo[id(x)]
        memo[id(x)] = limit + 1  # until sized: an alias inside its own anchor is unbounded
        n = 1
        items = [v for pair in x.items() for v in pair] if isinstance(x, dict) else x
        for item in items:
            n += size(item)
            if n > limit:
                break
        memo[id(x)] = n
        return n

    return size(obj), shared


# The longest string value a config holds: a path (Linux opens none longer than PATH_MAX, 4096).
MAX_STRING_CHARS = 4096


@functools.lru_cache(maxsize=None)
def _strict_loader():
    """yaml.SafeLoader that refuses a key given twice in one mapping. PyYAML keeps the last one,
    so a section pasted twice (a second ``model:``) silently replaced the first."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        if not isinstance(node, yaml.MappingNode):  # `!!map x`: the loop below unpacked a string's letters
            raise yaml.constructor.ConstructorError(None, None, f"expected a mapping node, but found {node.id}",
                                                    node.start_mark)
        seen: Dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges, and keys given beside it override the merged ones
            key = loader.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base constructor words that error
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (first on line {first})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        for key_node, value_node in node.value:
            if value_node.tag == _LEADING_ZERO_TAG and isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key_node.value!r}: {_leading_zero_problem(value_node.value)}",
                    value_node.start_mark)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    def construct_object(loader, node, deep=False):
        # PyYAML's scalar constructors take what an explicit tag names on trust: `!!int abc`,
        # `!!float ''`, `!!bool maybe` and `!!timestamp x` were a ValueError, IndexError, KeyError
        # or AttributeError traceback out of the loader. Such a value is the document's error, at its line.
        try:
            value = yaml.SafeLoader.construct_object(loader, node, deep)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError):
            text = node.value if isinstance(node.value, str) else ""
            shown = repr(text if len(text) <= 40 else text[:40] + "...")
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(None, None, f"{shown} is not a valid {tag} value",
                                                    node.start_mark) from None
        if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            # Every check quotes the value it refuses (`mode must be beam or greedy, got '...'`):
            # a value of a megabyte made a one-line error of a megabyte.
            raise yaml.constructor.ConstructorError(
                None, None, f"a string of {len(value)} characters ({value[:20]!r}...), longer than any option takes",
                node.start_mark)
        return value

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    StrictLoader.construct_object = construct_object
    _yaml_12_core_scalars(StrictLoader)
    return StrictLoader


# A plain number written with a leading zero (010): YAML 1.1 (PyYAML, older asrkit) reads it as
# octal 8, YAML 1.2 as decimal 10. Either guess trains a different number of epochs than someone
# meant with exit 0, so it is refused, naming the key and line.
_LEADING_ZERO_TAG = "tag:asrkit,2026:leading-zero-int"


def _leading_zero_problem(text: str) -> str:
    sign = text[:len(text) - len(text.lstrip("+-"))]
    decimal = sign + (text.lstrip("+-").lstrip("0") or "0")
    old = (f"octal {sign}{int(text.lstrip('+-'), 8)}" if set(text) <= set("+-01234567") else "a string")
    return f"{text} has a leading zero ({old} to YAML 1.1, {decimal} to YAML 1.2): write {decimal}, or 0o... for octal"


def _yaml_12_core_scalars(loader: type) -> None:
    """Plain ints, floats and booleans resolved as YAML 1.2's core schema does, not YAML 1.1's.

    PyYAML follows YAML 1.1: ``max_epochs: 010`` was 8 (octal), ``seed: 1:30`` was 90 (base 60),
    ``1_000`` was 1000, ``lang: no`` was False and ``noise_scp: 2026-01-01`` a date (which the
    type check refused as "expected a string"). Under 1.2 (what other modern tools read) 0b,
    base 60, underscores and dates are strings and only true/false are booleans; the config's
    type check then names a key where a number or a boolean was expected, and a string field
    keeps what the user wrote. Null and the rest of SafeLoader's resolvers stay as they were.
    """
    import yaml

    dropped = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
               "tag:yaml.org,2002:value", "tag:yaml.org,2002:timestamp"}  # "=": SafeLoader has no constructor for it, so a value '=' crashed
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    digits = list("-+0123456789")
    loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                 re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    loader.add_implicit_resolver(_LEADING_ZERO_TAG, re.compile(r"^[-+]?0[0-9]+$"), digits)
    loader.add_implicit_resolver("tag:yaml.org,2002:int",
                                 re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), digits)
    loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), digits + ["."])

    def construct_int(constructor, node):
        text = constructor.construct_scalar(node)
        sign = -1 if text[:1] == "-" else 1
        body = text.lstrip("+-")
        try:
            return sign * int(body, 0)  # decimal, 0o (octal) or 0x (hex): the regexp let nothing else through
        except ValueError:
            if body.isascii() and body.isdigit():  # past Python's limit on the digits int() reads (4300)
                raise yaml.constructor.ConstructorError(
                    None, None, f"a number of {len(body)} digits ({text[:20]}...), longer than any option takes",
                    node.start_mark) from None
            raise  # (an explicit !!int of something else: construct_object words it)

    def construct_leading_zero(constructor, node):  # one not a mapping's value: in a list
        raise yaml.constructor.ConstructorError(
            None, None, _leading_zero_problem(constructor.construct_scalar(node)), node.start_mark)

    loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    loader.add_constructor(_LEADING_ZERO_TAG, construct_leading_zero)


def dump_yaml(data: Any, stream: Any = None, **kwargs: Any) -> Any:
    """``yaml.safe_dump`` whose output :func:`parse_yaml` reads back to ``data``.

    safe_dump quotes a string only where YAML 1.1 would read it as something else, so the string
    '1e5' or '0o17' came out plain and read back (under YAML 1.2) as a number; here a string that
    either version would take for a number, a boolean or a leading-zero int is quoted.
    """
    import yaml

    return yaml.dump(data, stream, Dumper=_quoting_dumper(), **kwargs)


@functools.lru_cache(maxsize=None)
def _quoting_dumper():
    import yaml

    class QuotingDumper(yaml.SafeDumper):
        pass

    # SafeDumper's own (YAML 1.1) resolvers stay: the union quotes what either reader misreads
    for first, resolvers in _strict_loader().yaml_implicit_resolvers.items():
        for tag, regexp in resolvers:
            if (tag, regexp) not in yaml.SafeDumper.yaml_implicit_resolvers.get(first, []):
                QuotingDumper.add_implicit_resolver(tag, regexp, [first])
    return QuotingDumper


def completed(cls: Type[T], d: Any) -> Any:
    """A config mapping ``d`` written by an older asrkit, with the options it does not name at their
    defaults (``cls`` read from it and written back); ``d`` itself when it does not read as ``cls``
    (a newer asrkit's, or one the checks refuse): the caller compares it as it is."""
    try:
        return to_dict(from_dict(cls, d))
    except (AsrkitError, ValueError, TypeError):
        return d


def number_text(x: Any) -> str:
    """A number as an error message shows it: a float in %g, or as Python writes it (the shortest
    text that reads back as it: what a config says) where that is shorter or %g is another number:
    1e-320, below the normal floats, was %g's 9.99989e-321, and 1234567.5 1.23457e+06; an int as
    typed (10**30 is no 1e+30)."""
    if not isinstance(x, float):
        return str(x)
    text = f"{x:g}"
    if math.isfinite(x) and (float(text) != x or len(repr(x)) < len(text)):
        return repr(x)
    return text


def over_bounds(bounds: Iterable[Tuple[str, Any, Any]], unit: str = "") -> List[str]:
    """``name must be at most bound<unit>, got value`` for each ``(name, value, bound)`` whose
    value (not None) is over its bound: the upper bounds of the decoding and training configs."""
    return [Problem(f"{name} must be at most {number_text(bound)}{unit}, got {number_text(value)}", name)
            for name, value, bound in bounds if value is not None and value > bound]


def under_bounds(bounds: Iterable[Tuple[str, Any, Any, bool]]) -> List[str]:
    """``name must be >= bound, got value`` (``> bound`` where the bound itself is refused, the
    fourth item False) for each ``(name, value, bound, inclusive)`` whose value is below it: the
    lower bounds of the training config, each named with its value as :func:`over_bounds` does."""
    return [Problem(f"{name} must be {'>=' if inclusive else '>'} {number_text(bound)}, got {number_text(value)}", name)
            for name, value, bound, inclusive in bounds
            if value is not None and (value < bound if inclusive else value <= bound)]


def non_finite(obj: Any) -> List[str]:
    """Problems, one per float field of dataclass ``obj`` that is NaN or infinite: for a config's
    own validate(), which also sees values set without from_dict (command-line overrides)."""
    return [Problem(f"{f.name} must be a finite number, got {getattr(obj, f.name)}", f.name)
            for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), float) and not math.isfinite(getattr(obj, f.name))]


def from_dict(cls: Type[T], d: Optional[Mapping[Any, Any]], where: str = "", *, path: str = "",
              wording: Wording = DEFAULT, normalize_key: Optional[Callable[[Any], str]] = None) -> T:
    """Build dataclass ``cls`` from mapping ``d`` (None: all defaults), checking keys and types.

    ``where`` names the source (a file, "decode config"); ``path`` is the dotted position of ``d``
    inside it ("training", "model.listener"); messages read ``where: path.key: ...``.
    ``normalize_key`` maps a key as written to a field name (e.g. Kaldi's dashed names).
    """
    loc = _join(where, path) or "config"
    if d is None:
        d = {}
    if not isinstance(d, Mapping):
        raise ConfigError(f"{loc}: expected a mapping, got {type(d).__name__}")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    given: Dict[str, Any] = {}
    written: Dict[str, Any] = {}
    for key, value in d.items():
        name = normalize_key(key) if normalize_key is not None else key
        if name in written:
            raise ConfigError(f"{loc}: {written[name]!r} and {key!r} are the same option", [_dot(path, str(key))])
        given[name], written[name] = value, key
    unknown = [written[n] for n in given if n not in names]
    if unknown:
        raise UnknownKeysError(wording.unknown.format(
            where=loc, source=where or "config", s="s" if len(unknown) > 1 else "",
            quoted=", ".join(repr(k) for k in unknown), dotted=", ".join(repr(_dot(path, str(k))) for k in unknown),
            keys=", ".join(str(k) for k in unknown), known=", ".join(names)),
            [_dot(path, str(k)) for k in unknown], where)
    missing = [f.name for f in fields if f.name not in given
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{loc}: missing {', '.join(missing)}")

    hints = _hints(cls)
    kwargs: Dict[str, Any] = {}
    mismatch: Optional[str] = None
    mismatch_key = ""
    bool_given = False
    for name, value in given.items():
        sub = _dot(path, name)
        try:
            kwargs[name] = _coerce(value, hints.get(name, Any),
                                   lambda typ, v: from_dict(typ, v, where, path=sub, wording=wording,
                                                            normalize_key=normalize_key))
        except _Mismatch as m:
            if mismatch is None:
                label = (wording.key.format(where=loc, key=written[name]) if wording.key is not None
                         else _join(where, sub))
                expected = {**EXPECTED, **wording.expected}.get(m.kind, m.kind)
                mismatch = f"{label}{m.at}: expected {expected}, got {_shown_value(m.value)}"
                mismatch_key = sub
            bool_given = bool_given or isinstance(m.value, bool)
            kwargs[name] = value
    if mismatch is not None:
        # The class's own check, when it has one, knows what the field means ("one per BLSTM
        # layer") and says it better than "expected a list": let it speak first. Not over a bool
        # given another type, which its comparisons take for 0 or 1: 'sample_frequency: true' was
        # "... one sample (1000 ms at True Hz)", where 'dither: true' was "expected float, got True".
        try:
            if not bool_given:
                cls(**kwargs)
        except (ValueError, AsrkitError) as e:
            raise ConfigError(f"{loc}: {e}", _keys_under(path, e), getattr(e, "problems", ())) from None
        except Exception:  # e.g. a TypeError from comparing the wrong type: ours is clearer
            pass
        raise ConfigError(mismatch, [mismatch_key])
    try:
        return cls(**kwargs)
    except (ValueError, AsrkitError) as e:
        raise ConfigError(f"{loc}: {e}", _keys_under(path, e), getattr(e, "problems", ())) from None


def _keys_under(path: str, e: Exception) -> List[str]:
    """The keys of error ``e`` of a class's own check (named from the class) as dotted from the top;
    one that carries none (a plain ValueError) is about the section ``path`` as a whole."""
    keys = [_dot(path, k) for k in getattr(e, "keys", ())]
    return keys or ([path] if path else [])


def dict_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> List[str]:
    """``section.key: old -> new`` for every leaf that differs between two (nested) config dicts."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += dict_diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def to_dict(obj: Any) -> Dict[str, Any]:
    """``dataclasses.asdict`` with tuples as lists: plain YAML (safe_dump) that from_dict reads back."""
    return _plain(dataclasses.asdict(obj))


# --- internals ----------------------------------------------------------------------------

class _Mismatch(Exception):
    """``kind``: the expected type (worded by EXPECTED) or a description of what was expected."""

    def __init__(self, kind: Union[type, str], value: Any, at: str = "") -> None:
        super().__init__(kind, value, at)
        self.kind, self.value, self.at = kind, value, at


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _shown_value(value: Any) -> str:
    """``repr(value)`` for an error, a string or a list cut as :func:`asrkit.utils.errors.shown`
    cuts a string: a list of 50,000 numbers given for an int was quoted whole. (A number is quoted
    whole: the parser refuses one of more digits than any option takes.)"""
    if isinstance(value, str):
        return shown(value)
    text = repr(value)
    if len(text) <= SHOWN_MAX or not isinstance(value, (list, tuple, dict)):
        return text
    return f"{text[:SHOWN_MAX]}... ({len(value)} items)"


def _join(where: str, path: str) -> str:
    return ": ".join(p for p in (where, path) if p)


def _dot(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _coerce(value: Any, typ: Any, nested: Callable[[type, Any], Any]) -> Any:
    """``value`` as type ``typ``, or _Mismatch; ``nested(cls, mapping)`` builds a sub-dataclass."""
    if typ is Any or typ is object:
        return value
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _coerce(value, rest[0], nested) if len(rest) == 1 else value  # wider unions: unchecked
    if isinstance(typ, type) and dataclasses.is_dataclass(typ):
        if isinstance(value, typ):
            return value
        if value is not None and not isinstance(value, Mapping):
            raise _Mismatch(dict, value)
        return nested(typ, value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _Mismatch(bool, value)
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        number = _number(value)
        if number is not None and number.is_integer():
            if not -MAX_INT_FROM_FLOAT <= number < MAX_INT_FROM_FLOAT:  # (-2**63 is a 64-bit int; 2**63 none)
                # No option takes an int past 64 bits (training.seed's is the widest); taken as
                # one, 1e300 was quoted by the checks as the 301 digits of the float's value
                raise _Mismatch("an int (at most 64 bits)", value)
            return int(number)
        raise _Mismatch(int, value)
    if typ is float:
        number = _number(value)
        if number is None:
            raise _Mismatch(float, value)
        if not math.isfinite(number):  # no option means anything by NaN or infinity; they slip past "> 0" checks
            raise _Mismatch("a finite number", value)
        return number
    if typ is str:
        if not isinstance(value, str):
            raise _Mismatch(str, value)
        return value
    if typ in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(list, value)
        kind = origin or typ
        if kind is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _Mismatch(f"a list of {len(args)}", value)
            elem_types = list(args)
        else:
            elem_types = [args[0] if args else Any] * len(value)
        out = []
        for i, (v, t) in enumerate(zip(value, elem_types)):
            try:
                out.append(_coerce(v, t, nested))
            except _Mismatch as m:
                raise _Mismatch(m.kind, m.value, f"[{i}]{m.at}") from None
        return tuple(out) if kind is tuple else out
    if typ is dict or origin is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch(dict, value)
        return dict(value)
    return value  # a type this loader does not know: the class checks it


# The bound of the floats an int option takes as ints, -2**63 <= x < 2**63: training.seed's, the widest.
MAX_INT_FROM_FLOAT = float(2 ** 63)


def _number(value: Any) -> Optional[float]:
    """A float from an int, a float or a numeric string in ASCII (YAML 1.1 reads 1e-3 as a str); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int past any float (10**400: 'optim.lr: 1000...'): infinite, refused by name
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        if not value.isascii():  # float() reads any script's digits ('\u0663' is 3.0, '\uff11' 1.0)
            return None
        if "_" in value:  # float() reads '1_000' as 1000; YAML 1.2 and this loader leave it a string
            return None
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None
