"""The Slurm back-end's config file, in Kaldi slurm.pl's format, which users edit per cluster.

::

    command sbatch --export=ALL --partition=cpu --account=myproject
    option mem=* --mem=$0          # asrkit-launch --mem 4G   ->  --mem=4G
    option mem=0                   # --mem 0                  ->  nothing
    option gpu=* --partition=gpu --gres=gpu:$0
    default gpu=0                  # as if --gpu 0 were given
    option gpu=0

An ``option NAME=VALUE`` line for the exact value wins over ``option NAME=*``, whose ``$0`` is
replaced by the value. ``default`` lines give values for options not on the command line. An
option given on the command line with no matching line is an error naming the file.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from asrkit.data.table import BOM
from asrkit.utils.errors import AsrkitError

DEFAULT_CONFIG = """\
# asrkit-launch --backend slurm configuration (Kaldi slurm.pl's format).
#   command <submit command and the options every job gets>
#   option <name>=<value> <sbatch options>   for asrkit-launch --<name> <value>
#   option <name>=* <sbatch options>          for any other value; $0 is the value
#   default <name>=<value>                    the value when --<name> is not given
# Partition and account go on the command line (or on an option line, e.g. only for GPUs):
#   command sbatch --export=ALL --partition=cpu --account=myproject
#   option gpu=* --partition=gpu --gres=gpu:$0
command sbatch --export=ALL
option time=* --time=$0
option mem=* --mem=$0
option mem=0          # no request: the partition's default
option num_threads=* --cpus-per-task=$0
option num_threads=1 --cpus-per-task=1
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
"""
# A slurm.pl config is a few lines; the most read (/dev/zero given as --config was read until the
# machine ran out of memory).
MAX_CONFIG_BYTES = 1 << 20


@dataclass
class SlurmConfig:
    command: list[str]
    exact: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (name, value) -> args
    wildcard: dict[str, list[str]] = field(default_factory=dict)  # name -> args with $0
    defaults: dict[str, str] = field(default_factory=dict)
    source: str = "<built-in default>"

    @classmethod
    def parse(cls, text: str, source: str) -> "SlurmConfig":
        command: Optional[list[str]] = None
        exact: dict[tuple[str, str], list[str]] = {}
        wildcard: dict[str, list[str]] = {}
        defaults: dict[str, str] = {}
        # A byte-order mark (a Windows editor's UTF-8) is not part of the first line: it was
        # "unknown line type '\ufeffcommand'" of a 'command' line as written.
        text = text.removeprefix(BOM)
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{source}:{lineno}"
            if "\0" in raw:  # shlex keeps it, and sbatch's argv cannot hold it (a ValueError traceback)
                raise AsrkitError(f"{where}: a NUL byte (a binary or damaged file?)")
            try:
                words = shlex.split(line)
            except ValueError as e:
                raise AsrkitError(f"{where}: {e}") from None
            kind, rest = words[0], words[1:]
            if kind == "command":
                if not rest:
                    raise AsrkitError(f"{where}: 'command' needs the submit command, e.g. 'command sbatch'")
                command = rest
            elif kind in ("option", "default"):
                if not rest or "=" not in rest[0]:
                    raise AsrkitError(f"{where}: expected '{kind} <name>=<value> ...', got {raw.strip()!r}")
                name, value = rest[0].split("=", 1)
                if not name:
                    raise AsrkitError(f"{where}: empty option name in {raw.strip()!r}")
                if kind == "default":
                    if len(rest) > 1:
                        raise AsrkitError(f"{where}: 'default' takes only <name>=<value>")
                    defaults[name] = value
                elif value == "*":
                    wildcard[name] = rest[1:]
                else:
                    exact[(name, value)] = rest[1:]
            else:
                raise AsrkitError(f"{where}: unknown line type {kind!r} (expected command, option or default)")
        if command is None:
            raise AsrkitError(f"{source}: no 'command' line (e.g. 'command sbatch --export=ALL')")
        return cls(command, exact, wildcard, defaults, source)

    @classmethod
    def load(cls, path: Optional[str]) -> "SlurmConfig":
        """``path``, else ``conf/slurm.conf`` when it exists (as slurm.pl), else the default."""
        if path is None:
            if Path("conf/slurm.conf").is_file():
                path = "conf/slurm.conf"
            else:
                return cls.parse(DEFAULT_CONFIG, "<built-in default>")
        from asrkit.utils.config import read_config_text

        try:
            text = read_config_text(path, "Slurm config", MAX_CONFIG_BYTES)
        except OSError as e:
            raise AsrkitError(f"cannot read Slurm config {path}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            from asrkit.data.table import utf16_problem

            utf16 = utf16_problem(e.object[:2], path, "Slurm configs are")  # (a Windows editor's 'Unicode')
            if utf16 is not None:
                raise AsrkitError(f"{path}: {utf16}") from None
            lineno = e.object.count(b"\n", 0, e.start) + 1
            raise AsrkitError(f"{path}:{lineno}: not UTF-8 text ({e.reason})") from None
        return cls.parse(text, path)

    def resolve(self, options: Mapping[str, Optional[str]]) -> list[str]:
        """The submit command with the options for ``options`` (None = not given) and defaults."""
        args = list(self.command)
        values = dict(self.defaults)
        values.update({k: v for k, v in options.items() if v is not None})
        for name, value in values.items():
            if (name, value) in self.exact:
                args += self.exact[(name, value)]
            elif name in self.wildcard:
                args += [a.replace("$0", value) for a in self.wildcard[name]]
            else:
                raise AsrkitError(f"{self.source}: no 'option {name}=...' line for --{name.replace('_', '-')} "
                                  f"{value} (add e.g. 'option {name}=* --{name.replace('_', '-')}=$0')")
        return args
