"""The documentation names only options and files that exist: every ``--option`` given to an
``asrkit-*`` command (or ``asrkit <sub>``) in README.md, docs/*.md and the recipes' READMEs is
one of that command's options, every option given to a recipe's ``./run.sh``/``./asr.sh``/
``local/*.sh`` is a variable that script (or asr.sh, to which run.sh passes the rest) defines,
and every ``asrkit/``, ``tests/``, ``bench/``, ``tools/``, ``bin/`` or ``docs/`` path, relative
link and ``tests/x.py::test_y`` node id resolves, every value given an option of fixed choices is
one of them, every ``asrkit.x.y`` Python name exists, and the config defaults the docs' key tables
and training YAML state are the code's. Reviewers follow the docs from a fresh
clone; a renamed option or a moved file must not leave an example that fails. In process, ~5 s
(importing torch)."""
from __future__ import annotations

import glob
import importlib
import re
import shlex
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import click
import pytest
import yaml

from asrkit.cli import command_names

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [ROOT / "README.md", ROOT / "DEVELOPERS.md"]
    + [Path(p) for p in glob.glob(str(ROOT / "docs" / "*.md"))]
    + [Path(p) for p in glob.glob(str(ROOT / "egs" / "*" / "asr1" / "README.md"))]
)
OPTION = re.compile(r"(?<![\w-])(--[a-zA-Z0-9][\w-]*)")
COMMAND = re.compile(r"(?<![\w/.-])(asrkit-[a-z][a-z-]*|asrkit [a-z][a-z-]*)")
SCRIPT = re.compile(r"(?<![\w/.-])(\./run\.sh|\./asr\.sh|local/[\w.-]+\.sh)(?![\w.-])")


def _rel(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def snippets(doc: Path) -> Iterator[Tuple[int, str]]:
    """(line, text) of every code-block line (continuation lines joined) and inline code span."""
    in_block, pending, start = False, "", 0
    for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            if line.rstrip().endswith("\\"):
                pending, start = pending + line.rstrip()[:-1] + " ", start or n
                continue
            yield (start or n), pending + line
            pending, start = "", 0
        else:
            for m in re.finditer(r"`([^`]+)`", line):
                yield n, m.group(1)


def command(name: str) -> click.Command:
    """asrkit-<name>'s click command (``decode``, ``fix-data-dir``)."""
    return importlib.import_module(f"asrkit.cli.{name.replace('-', '_')}").main


def command_options() -> Dict[str, Set[str]]:
    opts: Dict[str, Set[str]] = {}
    for name in command_names():
        cmd = command(name)
        found = {"--help"}
        for p in cmd.params:
            found.update(o for o in list(p.opts) + list(p.secondary_opts) if o.startswith("--"))
        opts[f"asrkit-{name}"] = found
    return opts


def _variables(script: Path) -> Set[str]:
    head = script.read_text(encoding="utf-8").split("parse_options.sh")[0]
    return {"--" + v.replace("_", "-") for v in re.findall(r"^\s*([a-z][a-z0-9_]*)=", head, re.M)}


def script_options(script: Path) -> Set[str]:
    """The ``--foo-bar`` options parse_options.sh accepts: the variables set before it is sourced,
    and, for run.sh and the scripts that pass on what they do not know, run.sh's and asr.sh's."""
    opts = {"--help", "--config"} | _variables(script)
    head = script.read_text(encoding="utf-8").split("parse_options.sh")[0]
    if script.name == "run.sh" or "parse_options_passthrough=true" in head:
        recipe = script.parent if script.parent.name == "asr1" else script.parent.parent
        for other in (recipe / "run.sh", ROOT / "egs" / "TEMPLATE" / "asr1" / "asr.sh"):  # every asr.sh
            if other.is_file():
                opts |= _variables(other)
    return opts


def given_options(args: str) -> List[str]:
    """The options in a command's arguments, leaving out the value of each ``--*-args`` option
    (``--train-args "--set x=1"``, ``--fbank-args --resample``: options of another command)."""
    try:
        words = shlex.split(args, comments=True)
    except ValueError:  # an unbalanced quote in prose
        words = args.split()
    found, skip = [], False
    for w in words:
        if skip:
            skip = False
            continue
        m = OPTION.match(w)
        if m:
            found.append(m.group(1))
            skip = m.group(1).endswith("-args") and "=" not in w
    return found


def usages(cut: "re.Pattern[str]", text: str) -> Iterator[Tuple[str, str]]:
    """(name, its arguments) for each match of ``cut`` in ``text``: the arguments run to the next
    match or to the end of the shell command (a pipe, ``&&``, ``;``, a comment)."""
    matches = list(cut.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        yield m.group(1), _command_end(text[m.end():end])


def _command_end(rest: str) -> str:
    """``rest`` up to the end of its shell command. A ``|`` inside brackets is a synopsis's
    alternative (``[--mode wer|cer|both] [--top N]``, ``(--feats F | --wav-scp W)``), not a pipe:
    cutting there left every option after it unchecked."""
    depth = 0
    for i, c in enumerate(rest):
        if c in "[(":
            depth += 1
        elif c in "])":
            if c == ")" and depth == 0:
                return rest[:i]
            depth = max(depth - 1, 0)
        elif depth == 0 and (rest.startswith("&&", i) or c == ";" or (c == "#" and i and rest[i - 1].isspace())
                             or (c == "|" and not (i and rest[i - 1] == "\\"))):
            return rest[:i]
    return rest


def test_docs_name_only_existing_command_options():
    known = command_options()
    bad: List[str] = []
    for doc in DOCS:
        for line, text in snippets(doc):
            for name, args in usages(COMMAND, text):
                cmd = name.replace(" ", "-")
                if cmd not in known:
                    continue  # prose like "asrkit reads"; a made-up name is not an option error
                for opt in OPTION.findall(args):
                    if opt not in known[cmd]:
                        bad.append(f"{_rel(doc)}:{line}: {cmd} has no option {opt}: {text.strip()[:120]}")
    assert not bad, "\n".join(bad)


def _recipe_scripts(doc: Path, script: str) -> List[Path]:
    """The scripts a doc's ``./run.sh`` etc. can mean: its own recipe's, or (for docs/ and the
    README, which speak of every recipe) any recipe's."""
    recipes = [doc.parent] if doc.parent.name == "asr1" else sorted((ROOT / "egs").glob("*/asr1")) + [
        ROOT / "egs" / "TEMPLATE" / "asr1" / "skeleton"]  # what setup.sh makes a new recipe from
    return [r / script for r in recipes if (r / script).is_file()]


def test_docs_name_only_existing_recipe_options():
    bad: List[str] = []
    for doc in DOCS:
        for line, text in snippets(doc):
            for script, args in usages(SCRIPT, text):
                paths = _recipe_scripts(doc, script.lstrip("./") if script.startswith("./") else script)
                if not paths:
                    bad.append(f"{_rel(doc)}:{line}: no recipe has {script}")
                    continue
                ok: Set[str] = set()
                for p in paths:
                    ok |= script_options(p)
                for opt in given_options(args):
                    if opt not in ok:
                        bad.append(f"{_rel(doc)}:{line}: {script} has no option {opt}: {text.strip()[:120]}")
    assert not bad, "\n".join(bad)


REPO_PATH = re.compile(r"(?<![\w./<$-])((?:asrkit|tests|bench|tools|bin|docs)/[\w./{},-]*[\w}])")


def expand_braces(path: str) -> List[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py`` (the shell's brace expansion, which docs use)."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [p for alt in m.group(1).split(",") for p in expand_braces(path[:m.start()] + alt + path[m.end():])]


def test_docs_name_only_existing_files():
    bad: List[str] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for line_no, line in enumerate(text.split("\n"), 1):
            for found in REPO_PATH.findall(line):
                for path in expand_braces(found.split("::")[0]):
                    if not (ROOT / path).exists() and not (doc.parent / path).exists():
                        bad.append(f"{_rel(doc)}:{line_no}: no such file {path}")
            for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", line):  # pytest node ids
                if (ROOT / path).is_file() and not re.search(rf"def {name}\b", (ROOT / path).read_text()):
                    bad.append(f"{_rel(doc)}:{line_no}: no test {name} in {path}")
            if doc.parent.name == "asr1":  # a recipe's README: its conf/ and local/ files
                for path in re.findall(r"(?<![\w./<$-])((?:conf|local)/[\w./-]*[\w])", line):
                    made_here = re.search(r">\s*" + re.escape(path) + r"(?![\w./-])", text)
                    if not (doc.parent / path).exists() and not made_here:
                        bad.append(f"{_rel(doc)}:{line_no}: no such file {path}")
            for link in re.findall(r"\]\(([^)#\s]+)", line):
                if not link.startswith(("http://", "https://")) and not (doc.parent / link).exists():
                    bad.append(f"{_rel(doc)}:{line_no}: broken link {link}")
    # never files of the checkout: a made-up command's module, an environment's bin/ (ASRKIT_VENV),
    # tools/venv (made by tools/install.sh: a checkout run with ASRKIT_VENV has none)
    allowed = {"asrkit/cli/foo_bar.py", "bin/python", "bin/asrkit"}
    bad = [b for b in bad if b.rsplit(" ", 1)[-1] not in allowed
           and not re.fullmatch(r"tools/venv(/.*)?", b.rsplit(" ", 1)[-1])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text, expected", [
    ("asrkit-decode --model m.pt a.wav | asrkit-score --utt2spk u ref -", [
        ("asrkit-decode", ["--model"]), ("asrkit-score", ["--utt2spk"])]),
    ("asrkit-launch --gpu 4 log asrkit-train --ngpu 4 exp  # --not-an-option", [
        ("asrkit-launch", ["--gpu"]), ("asrkit-train", ["--ngpu"])]),
    ("asrkit-score [--mode wer|cer|both] [--top N] <ref> <hyp>", [("asrkit-score", ["--mode", "--top"])]),
    ("asrkit-decode (--feats F | --wav-scp W) [--ctm C] | sort", [
        ("asrkit-decode", ["--feats", "--wav-scp", "--ctm"])]),
    ("(cd d && asrkit-average --num 2 exp) > log", [("asrkit-average", ["--num"])]),
])
def test_usages_split_commands(text, expected):
    got = [(name, OPTION.findall(args)) for name, args in usages(COMMAND, text)]
    assert got == expected


def test_readme_commands_table_lists_every_command():
    """README's "Commands" table is where a new user looks for what there is: every installed
    ``asrkit-*`` command has its row (asrkit-perturb-data-dir-speed, AN4's stage 1, had none), and
    every row is a command."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(asrkit-[a-z-]+)` \|", section, re.M))
    installed = {f"asrkit-{name}" for name in command_names()}
    assert sorted(installed - rows) == [], "README.md's Commands table has no row for these"
    assert sorted(rows - installed) == [], "README.md's Commands table names commands that do not exist"


def test_docs_give_choice_options_only_their_choices():
    """``--mode wer|cer|both``, ``--word-rule energy``: each value a doc gives an option of fixed
    choices is one of them (a renamed choice left examples that exit 2)."""
    choices: Dict[Tuple[str, str], Set[str]] = {}
    for name in command_names():
        for p in command(name).params:
            if isinstance(p.type, click.Choice):
                choices.update({(f"asrkit-{name}", o): set(p.type.choices) for o in p.opts})
    bad: List[str] = []
    for doc in DOCS:
        for line, text in snippets(doc):
            for name, args in usages(COMMAND, text):
                cmd = name.replace(" ", "-")
                try:
                    words = shlex.split(args, comments=True)
                except ValueError:
                    words = args.split()
                words = [w.strip("[]()") for w in words]
                for i, w in enumerate(words):
                    opt, eq, value = w.partition("=")
                    if (cmd, opt) not in choices or not (eq or i + 1 < len(words)):
                        continue
                    value = value if eq else words[i + 1]
                    if value.startswith("-") or re.search(r"[<$.]|^[A-Z_]+$", value):  # a placeholder
                        continue
                    for alt in value.split("|"):
                        if alt not in choices[(cmd, opt)]:
                            bad.append(f"{_rel(doc)}:{line}: {cmd} {opt} has no choice {alt!r} "
                                       f"({'|'.join(sorted(choices[(cmd, opt)]))})")
    assert not bad, "\n".join(bad)


def test_docs_name_only_existing_python_names():
    """Every ``asrkit.x.y`` a doc names (a module, a class, a function) and every name a Python
    example imports from asrkit exists: a user pastes them."""
    names: Set[Tuple[str, str]] = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for n, line in enumerate(text.split("\n"), 1):
            for m in re.finditer(r"(?<![\w/.-])(asrkit(?:\.[A-Za-z_]\w*)+)", line):
                if m.group(1).rsplit(".", 1)[-1] not in ("py", "md", "yaml", "pt", "sh"):
                    names.add((f"{_rel(doc)}:{n}", m.group(1)))
            m = re.match(r"\s*from (asrkit[\w.]*) import ([\w, ()]+)", line)
            if m:
                names.update((f"{_rel(doc)}:{n}", f"{m.group(1)}.{x.strip()}")
                             for x in m.group(2).strip("() ").split(",") if x.strip())
    bad: List[str] = []
    for where, name in sorted(names):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                bad.append(f"{where}: no {name} ({'.'.join(parts[:i])} has no {attr})")
                break
            obj = getattr(obj, attr)
    assert not bad, "\n".join(bad)


def _default_of(obj, key: str):
    for part in key.split("."):
        if obj is None or not hasattr(obj, part):
            raise KeyError(key)
        obj = getattr(obj, part)
        if part == "specaug" and obj is None and key != "specaug":  # `specaug: {}` takes these
            from asrkit.models.config import SpecAugConfig
            obj = SpecAugConfig()
    return obj


def _doc_value(cell: str):
    cell = cell.strip().strip("`")
    if cell.startswith("null") or cell == "none":
        return None
    try:
        return yaml.safe_load(cell)
    except yaml.YAMLError:
        return cell


@pytest.mark.parametrize("doc, config", [("docs/decoding.md", "asrkit.decoding.config:DecodeConfig"),
                                         ("docs/model.md", "asrkit.models.config:LASConfig")])
def test_docs_config_tables_give_the_code_defaults(doc, config):
    """The ``| key | default | meaning |`` tables are where a user looks up a default: each key is
    a field of the config and its default is the dataclass's (``a`` / ``b`` and ``a``, ``b`` rows:
    several keys, their defaults in the same order)."""
    module, name = config.split(":")
    defaults = getattr(importlib.import_module(module), name)()
    text = (ROOT / doc).read_text(encoding="utf-8")
    table = text.split("| key | default | meaning |\n", 1)[1].split("\n\n", 1)[0]
    bad, rows = [], 0
    for row in table.split("\n")[1:]:
        cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
        keys = re.findall(r"`([\w.]+)`", cells[0])
        values = re.split(r" / |, (?![^\[]*\])", cells[1]) if len(keys) > 1 else [cells[1]]
        if len(values) != len(keys):
            bad.append(f"{doc}: {cells[0]}: {len(keys)} keys, {len(values)} defaults ({cells[1]})")
            continue
        prefix = keys[0].rsplit(".", 1)[0] + "." if "." in keys[0] else ""
        for i, (key, value) in enumerate(zip(keys, values)):
            key = key if i == 0 or "." in key else prefix + key
            rows += 1
            try:
                real = _default_of(defaults, key)
            except KeyError:
                bad.append(f"{doc}: {key}: no such key in {name}")
                continue
            if _doc_value(value) != real:
                bad.append(f"{doc}: {key}: the table says {value}, {name} has {real!r}")
    assert rows > 10, f"{doc}: the key table was not found"
    assert not bad, "\n".join(bad)


def test_training_md_yaml_gives_the_code_defaults():
    """docs/training.md's annotated training YAML (every section but model:, which model.md's
    table covers) states asrkit-train's defaults."""
    from asrkit.training.config import TrainConfig
    defaults = TrainConfig()
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    block = text.split("```yaml\nmodel:     #", 1)[1].split("```", 1)[0]
    bad, section, n = [], None, 0
    for line in block.split("\n"):
        m = re.match(r"^(\w+):", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^  (\w+): ([^#]+?)\s*(?:#.*)?$", line)
        if section and m:
            n += 1
            key = f"{section}.{m.group(1)}"
            try:
                real = _default_of(defaults, key)
            except KeyError:
                bad.append(f"docs/training.md: {key}: no such key")
                continue
            if isinstance(real, tuple):
                real = list(real)
            if _doc_value(m.group(2)) != real:
                bad.append(f"docs/training.md: {key}: {m.group(2)}, the default is {real!r}")
    assert n > 30, "docs/training.md's training YAML was not found"
    assert not bad, "\n".join(bad)


def test_contracts_md_names_every_member_of_the_training_task():
    """docs/contracts.md is what a new kind of model is written against: every attribute and
    method the Trainer asks of a TrainTask is there (split_bad, item_ids, spare_batch and
    config_file were added to the protocol and not to the contract)."""
    from asrkit.training.trainer import TrainTask
    text = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    section = text.split("\n## The training loop", 1)[1].split("\n## ", 1)[0]
    members = set(TrainTask.__annotations__) | {n for n in vars(TrainTask) if not n.startswith("_")}
    missing = sorted(m for m in members if not re.search(rf"`{m}[`(]", section))
    assert not missing, f"docs/contracts.md, 'The training loop': TrainTask's {missing} are not named"


def test_docs_name_only_existing_commands():
    """Every ``asrkit-<name>`` in the docs is a command (the option check skips names it does not
    know, so a renamed or misspelt command, ``asrkit-compute-fbanks``, went unnoticed there)."""
    known = {f"asrkit-{name}" for name in command_names()}
    # package formats (model.pt's, lm.pt's, a checkpoint's) and DEVELOPERS.md's made-up example
    known |= {"asrkit-model", "asrkit-lm", "asrkit-checkpoint", "asrkit-foo-bar"}
    bad = [f"{_rel(doc)}:{n}: no command {name}"
           for doc in DOCS for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1)
           for name in re.findall(r"(?<![\w/.-])asrkit-[a-z][a-z-]*[a-z]", line) if name not in known]
    assert not bad, "\n".join(bad)


def test_docs_name_only_existing_test_files():
    """The docs' test tables name test files without their folder (``| test_resume.py | ...``):
    each is a file somewhere under tests/ (a renamed test file left a table pointing at nothing)."""
    have = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    bad = [f"{_rel(doc)}:{n}: no tests/**/{name}"
           for doc in DOCS for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1)
           for name in re.findall(r"(?<![\w.-])(test_\w+\.py)\b", line) if name not in have]
    assert not bad, "\n".join(bad)


def test_docs_give_an_lm_its_weight():
    """A decoding example with ``--lm`` gives ``--lm-weight``: the recipes' decode.yaml (and
    asrkit's default) have lm_weight 0, so ``--lm`` alone decodes without the LM, with a warning."""
    bad: List[str] = []
    for doc in DOCS:
        for line, text in snippets(doc):
            for name, args in usages(COMMAND, text):
                opts = given_options(args)
                if name.replace(" ", "-") == "asrkit-decode" and "--lm" in opts and "--lm-weight" not in opts:
                    bad.append(f"{_rel(doc)}:{line}: --lm without --lm-weight: {text.strip()[:120]}")
    assert not bad, "\n".join(bad)


def test_readme_python_block_loads_the_model_the_quick_start_makes():
    """README's end-user lines decode with the main job's model; its Python block named
    exp/las/model.pt, which no recipe writes, so a new user who ran the quick start and pasted
    the block got 'no such file'. The block's model is the one README's asrkit-decode line uses."""
    readme = (ROOT / "README.md").read_text()
    decoded = re.search(r"asrkit-decode --model (\S+) a\.wav", readme).group(1)
    block = readme.split("## From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    loaded = re.search(r"Transcriber\.from_file\(\"([^\"]+)\"", block).group(1)
    assert loaded == decoded == "egs/yesno/asr1/exp/train_char/final.pt", (loaded, decoded)


def _help_examples(cmd: click.Command) -> List[str]:
    """The lines of each paragraph of a command's help or epilog that starts with ``e.g.``."""
    lines, inside = [], False
    for line in f"{cmd.help or ''}\n\n{cmd.epilog or ''}".split("\n"):
        s = line.strip()
        inside = s.startswith("e.g.") or (inside and s not in ("", "\b"))
        if inside:
            lines.append(s)
    return lines


def test_docs_job_arrays_of_compute_fbank_write_utt2num_frames_per_job():
    """An ``asrkit-launch JOB=1:N ... asrkit-compute-fbank ... ark,scp:...JOB...`` example gives each
    job its own ``--write-utt2num-frames ...JOB...``: by default every job writes utt2num_frames
    beside its scp, one file for all N when the scps share a folder, so docs/launch.md's example
    left the last job's lines there (26 of AN4 test's 130 utterances, run as written), which
    asrkit-validate-data-dir then refuses against the merged feats.scp (104 errors); asrkit-launch
    --help's example was the same."""
    examples = [(f"{_rel(doc)}:{line}", text) for doc in DOCS for line, text in snippets(doc)]
    for name in command_names():  # and each command's --help example, its lines joined at '\'
        cmd = command(name)
        joined = re.sub(r"\\\n\s*", " ", "\n".join(_help_examples(cmd)))
        examples += [(f"asrkit-{name} --help", text) for text in joined.split("\n")]
    bad = [f"{where}: one utt2num_frames for every job: {text.strip()[:120]}"
           for where, text in examples if _one_utt2num_frames_for_all_jobs(text)]
    assert not bad, "\n".join(bad)


def _one_utt2num_frames_for_all_jobs(text: str) -> bool:
    """A ``JOB=`` array's asrkit-compute-fbank writes per-job scps into one folder, where each job's
    default utt2num_frames (``<scp-dir>/utt2num_frames``) overwrites the others', not giving a
    ``--write-utt2num-frames`` of its own. Scps in a folder per job (``dump/JOB/feats.scp``) have
    theirs apart."""
    if not re.search(r"\bJOB=\d", text):
        return False
    for name, args in usages(COMMAND, text):
        output = re.search(r"\bark,scp:(\S*JOB\S*)", args)
        if name.replace(" ", "-") != "asrkit-compute-fbank" or not output:
            continue
        scp_dir = str(Path(output.group(1).split(",")[-1]).parent)
        frames = re.search(r"--write-utt2num-frames[ =](\S+)", args)
        if "JOB" not in scp_dir and (not frames or "JOB" not in frames.group(1)):
            return True
    return False


def test_a_job_array_with_an_scp_folder_per_job_needs_no_utt2num_frames_option():
    """Each job's default utt2num_frames lies beside its own scp when the scps have a folder per job;
    one folder for all (docs/launch.md's example before 994ea61) is the fault."""
    launch = "asrkit-launch JOB=1:8 log/fbank.JOB.log asrkit-compute-fbank scp:data/split8/JOB/wav.scp "
    assert not _one_utt2num_frames_for_all_jobs(launch + "ark,scp:dump/JOB/feats.ark,dump/JOB/feats.scp")
    assert _one_utt2num_frames_for_all_jobs(launch + "ark,scp:dump/feats.JOB.ark,dump/feats.JOB.scp")
    assert not _one_utt2num_frames_for_all_jobs(
        launch + "--write-utt2num-frames dump/utt2num_frames.JOB ark,scp:dump/feats.JOB.ark,dump/feats.JOB.scp")


@pytest.mark.parametrize("name", command_names())
def test_help_examples_are_shown_as_written(name):
    """README: "--help on any of them gives its options and an example". click rewraps a help
    paragraph not marked ``\\b``, so seven commands' examples came out joined or broken at another
    word: asrkit-align's ctm-out on a line of its own (pasted, the command lacks its last argument),
    fix-data-dir's two commands as one (``... data/train      asrkit-fix-data-dir --punctuation``),
    perturb-data-dir-speed's ``asrkit-`` / ``compute-fbank``. Each example line is a line of the
    rendered help (indented), and decode's two-line example has its ``\\``."""
    cmd = command(name)
    shown = {line.strip() for line in cmd.get_help(click.Context(cmd, info_name=f"asrkit-{name}")).split("\n")}
    examples = _help_examples(cmd)
    assert examples, f"asrkit-{name} --help has no 'e.g.' example"
    bad = [line for line in examples if line not in shown]
    assert not bad, f"asrkit-{name} --help rewraps its example: {bad}"
    for first, second in zip(examples, examples[1:]):
        assert not second.startswith("-") or first.endswith("\\"), f"asrkit-{name}: {first!r} needs a '\\'"


@pytest.mark.parametrize("name", command_names())
def test_help_fits_an_80_column_terminal(name):
    """A ``\\b`` paragraph of --help is printed as written, however long its lines: 39 lines of 16
    commands' examples and notes (decode's example 107 columns wide) ran past an 80-column terminal,
    which breaks them at any character. Rendered for one (prose click wraps itself), each fits."""
    cmd = command(name)
    ctx = click.Context(cmd, info_name=f"asrkit-{name}", terminal_width=80, **cmd.context_settings)
    wide = [line for line in cmd.get_help(ctx).split("\n") if len(line) > 80]
    assert not wide, f"asrkit-{name} --help is wider than 80 columns: {wide}"


@pytest.mark.parametrize("name", command_names())
def test_help_breaks_no_name_at_a_hyphen(name):
    """click wrapped help prose at hyphens too: at 80 columns adapt-speakers said ``--max-`` /
    ``samples`` and ``asrkit-`` / ``pack-model``, compute-fbank ``--sample-`` / ``frequency`` (14
    such breaks in 8 commands; others at other widths), names a user copies. Lines break at spaces
    only, at any terminal width; so does the usage line a usage error prints without the help (at
    60 columns it said ``<src-data-`` / ``dir>``)."""
    cmd = command(name)
    for width in (60, 80, 100, 120):
        ctx = click.Context(cmd, info_name=f"asrkit-{name}", terminal_width=width, **cmd.context_settings)
        for what, text in (("--help", cmd.get_help(ctx)), ("usage error's usage", ctx.get_usage())):
            lines = text.split("\n")
            cut = [f"{a.strip()[-30:]} / {b.strip()[:20]}" for a, b in zip(lines, lines[1:])
                   if re.search(r"\w-$", a) and re.match(r"\s*\w", b)]
            assert not cut, f"asrkit-{name} {what} at {width} columns breaks names at a hyphen: {cut}"


def _prose_spans(text: str) -> Iterator[Tuple[int, str]]:
    """(line, text) of every inline code span, one that runs over a line end joined into one line.
    Code blocks and ``double-backtick`` spans are left out (one of shell characters holds a lone
    backtick), and the spans are paired a paragraph at a time: an odd backtick shifts one
    paragraph's pairs only."""
    text = re.sub(r"```.*?```|``.*?``", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    line = 1
    for paragraph in text.split("\n\n"):
        for m in re.finditer(r"`([^`]+)`", paragraph):
            yield line + paragraph[:m.start()].count("\n"), m.group(1).replace("\n", " ")
        line += paragraph.count("\n") + 2


def _invocations_lacking_required(where: str, spans: Iterator[Tuple[int, str]]) -> List[str]:
    """An invocation that gives options but not the command's required ones. A bare command name
    gives none and is not one; nor is a command with option names alone (``asrkit-decode --feats``,
    ``asrkit-compute-fbank --resample``: the docs' way to name an option of it, 20 times)."""
    required: Dict[str, List[List[str]]] = {}
    for name in command_names():
        cmd = command(name)
        required[f"asrkit-{name}"] = [p.opts for p in cmd.params if isinstance(p, click.Option) and p.required]
    bad: List[str] = []
    for line, text in spans:
        for name, args in usages(COMMAND, text):
            opts = given_options(args)
            if not opts or {"--print-config", "--help"} & set(opts) or "..." in args:
                continue
            if all(OPTION.match(w) for w in re.split(r"[\s/]+", args.strip())):  # (names an option)
                continue
            for names in required.get(name.replace(" ", "-"), []):
                if not set(names) & set(opts):
                    bad.append(f"{where}:{line}: {name} without {names[0]}: {text.strip()[:120]}")
    return sorted(set(bad))


def test_docs_invocations_give_the_required_options():
    """A documented invocation that gives options gives the command's required ones too: README and
    docs/decoding.md marked a model with ``asrkit-pack-model --upsampled-from 8000 ...``, which
    stopped at click's ``Missing option '--decode-config'`` (required then)."""
    bad: List[str] = []
    for doc in DOCS:
        spans = list(snippets(doc)) + list(_prose_spans(doc.read_text(encoding="utf-8")))
        bad += _invocations_lacking_required(_rel(doc), iter(spans))
    assert not bad, "\n".join(bad)


def test_an_option_named_with_its_command_is_no_invocation():
    """``asrkit-align --word-rule`` in prose names an option, as the docs name ``asrkit-decode
    --feats``; only an invocation (an option given a value, arguments) must give ``--model``."""
    prose = ("The word times (`asrkit-align --word-rule`, `asrkit-align\n--segments/--channel`) and\n"
             "`asrkit-train-tokenizer --vocab-size 30 data/train/text data/lang`.\n\n"
             "`asrkit-align --word-rule spike m.wav t.txt ctm`")
    bad = _invocations_lacking_required("doc", _prose_spans(prose))
    assert bad == ["doc:3: asrkit-train-tokenizer without --model-type: asrkit-train-tokenizer --vocab-size 30 "
                   "data/train/text data/lang",
                   "doc:5: asrkit-align without --model: asrkit-align --word-rule spike m.wav t.txt ctm"], bad
