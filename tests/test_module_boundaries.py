"""No asrkit module reaches into another's private names (a leading underscore): what a module
offers the others is public where it is defined, with a docstring saying who needs it. 18
imports of private names remained after wav.py's seven of containers.py's were made public
(from_audio.py took transcript_files' _normalise, mono_copies' _place_copies_with_tables,
make_report's _nfc...): a change to one, made as if only its own module called it, could break
or silently change the others.

A private module (cli/_common.py) is its package's: importing it from outside that package is
reaching in too."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional

ASRKIT = Path(__file__).resolve().parents[1] / "asrkit"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ASRKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = ASRKIT.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> Optional[str]:
    if node.level == 0:
        return node.module
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _reaching_in(path: Path) -> List[str]:
    """``path``'s uses of another asrkit module's private names: ``from m import _x``, ``m._x``
    (``m`` imported as a module), and a private module imported from outside its package."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    modules: Dict[str, str] = {}  # local name -> the asrkit module it is bound to

    def private_module(name: str, line: int) -> None:
        parts = name.split(".")
        for i, part in enumerate(parts):
            outside = not (package + ".").startswith(".".join(parts[:i]) + ".")
            if _private(part) and outside:
                found.append(f"{line}: module {name} (private to {'.'.join(parts[:i])})")
                return

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "asrkit":
                    private_module(a.name, node.lineno)
                    if a.asname:
                        modules[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, here, path.name == "__init__.py")
            if not source or source.split(".")[0] != "asrkit":
                continue
            private_module(source, node.lineno)
            for a in node.names:
                if _is_module(f"{source}.{a.name}"):
                    private_module(f"{source}.{a.name}", node.lineno)
                    modules[a.asname or a.name] = f"{source}.{a.name}"
                elif _private(a.name) and source != here:
                    found.append(f"{node.lineno}: {source}.{a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if not isinstance(value, ast.Name):
                continue
            dotted = ".".join([value.id] + chain[::-1][:-1])  # the module part, without the private name
            if value.id in modules:
                dotted = modules[value.id] + dotted[len(value.id):]
            if dotted.split(".")[0] == "asrkit" and _is_module(dotted) and dotted != here:
                found.append(f"{node.lineno}: {dotted}.{node.attr}")
    return [f"{path.relative_to(ASRKIT.parent)}:{f}" for f in found]


def test_no_module_uses_another_modules_private_names():
    reached = [r for path in sorted(ASRKIT.rglob("*.py")) for r in _reaching_in(path)]
    assert reached == [], ("private names of one asrkit module used in another (make them public where "
                           "they are defined, saying who needs them):\n" + "\n".join(reached))


def test_the_check_sees_each_way_of_reaching_in(tmp_path, monkeypatch):
    """The walk above, on made-up modules: each form is found, and the public forms are not."""
    root = tmp_path / "asrkit"
    (root / "cli").mkdir(parents=True)
    (root / "features").mkdir()
    for d in (root, root / "cli", root / "features"):
        (d / "__init__.py").write_text("")
    (root / "cli" / "_common.py").write_text("def own_args(): pass\ndef _private(): pass\n")
    (root / "features" / "containers.py").write_text("_A = 1\nB = 2\n")
    (root / "cli" / "decode.py").write_text("from asrkit.cli._common import own_args\nfrom ._common import _private\n")
    (root / "features" / "wav.py").write_text(
        "from asrkit.features.containers import B, _A\nfrom asrkit.features import containers\n"
        "import asrkit.features.containers as c\nx = containers._A + c._A + containers.B\n"
        "import asrkit.features.containers\ny = asrkit.features.containers._A\n"
        "from asrkit.cli._common import own_args\n_mine = 1\nz = _mine\n")
    monkeypatch.setitem(globals(), "ASRKIT", root)
    assert _reaching_in(root / "cli" / "decode.py") == ["asrkit/cli/decode.py:2: asrkit.cli._common._private"]
    assert sorted(_reaching_in(root / "features" / "wav.py")) == [
        "asrkit/features/wav.py:1: asrkit.features.containers._A",
        "asrkit/features/wav.py:4: asrkit.features.containers._A",
        "asrkit/features/wav.py:4: asrkit.features.containers._A",
        "asrkit/features/wav.py:6: asrkit.features.containers._A",
        "asrkit/features/wav.py:7: module asrkit.cli._common (private to asrkit.cli)",
    ]
