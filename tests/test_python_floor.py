"""Every Python file of the repository is still Python of the oldest version setup.py claims
(``python_requires``), checked here on whatever Python runs the suite (3.11 on CI).

This is a cheap guard, not the verification: ``ast.parse(..., feature_version=...)`` refuses the
syntax newer than the floor that it knows of (``match``, ``except*``, type parameters) but not
all of it (parenthesised context managers pass), and nothing of the library: ``zip(strict=)``,
a module or a torch/click call newer than the floor still pass. Annotations of the form
``X | None``, which Python < 3.10 evaluates at ``def`` time (a TypeError at import), are checked
apart: they need ``from __future__ import annotations`` in their module. The real check is the
test suite run on the floor's Python and torch, as docs/compatibility.md lists.
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def python_floor() -> tuple[int, int]:
    m = re.search(r'python_requires=">=3\.(\d+)"', (REPO / "setup.py").read_text(encoding="utf-8"))
    assert m, "setup.py has no python_requires=\">=3.N\""
    return 3, int(m.group(1))


def python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in out.stdout.split()]


def _or_annotations(tree: ast.Module):
    """Line numbers of annotations evaluated at run time that use ``|`` (a BinOp)."""
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            notes = [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                     if x is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            notes = [node.annotation]
        for note in notes:
            if note is not None and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
                                        for n in ast.walk(note)):
                yield note.lineno


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
               and any(a.name == "annotations" for a in n.names) for n in tree.body)


def test_every_python_file_parses_as_the_floor_version():
    floor = python_floor()
    files = python_files()
    assert len(files) > 100  # the repository's files were found
    bad = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=str(path), feature_version=floor)
        except SyntaxError as e:
            bad.append(f"{path.relative_to(REPO)}:{e.lineno}: {e.msg}")
            continue
        if floor < (3, 10) and not _has_future_annotations(tree):
            bad += [f"{path.relative_to(REPO)}:{line}: an 'X | Y' annotation without "
                    "'from __future__ import annotations' fails at import before Python 3.10"
                    for line in _or_annotations(tree)]
    assert not bad, f"not Python {floor[0]}.{floor[1]} (setup.py's python_requires):\n" + "\n".join(bad)


def test_the_guard_catches_what_it_says():
    assert list(_or_annotations(ast.parse("def f(x: int | None) -> None: pass"))) == [1]
    assert list(_or_annotations(ast.parse("def f(x: 'int | None'): pass"))) == []
    for newer in ("match x:\n    case 1: pass\n", "try:\n    pass\nexcept* E:\n    pass\n"):
        try:
            ast.parse(newer, feature_version=(3, 9))
        except SyntaxError:
            continue
        raise AssertionError(f"feature_version=(3, 9) let {newer!r} through")


def test_readme_states_the_floor_of_setup_py():
    major, minor = python_floor()
    assert f"Python ≥ {major}.{minor}" in (REPO / "README.md").read_text(encoding="utf-8")
