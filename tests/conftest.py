"""Shared fixtures: where the corpora are, and how to run an asrkit command.

The corpora are found through one setting, ``ASRKIT_CORPORA`` (default: ``../shared/corpora``
beside the checkout). A test that needs a corpus that is not there skips with a message, except
under ``ASRKIT_REQUIRE_CORPORA=1`` (set by ``.ci/run``), where that skip is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_checks import run_asrkit


def _click_runner_keeps_stderr_apart() -> None:
    """On click < 8.2 (the newest for Python 3.9 is 8.1.8) make CliRunner capture stderr apart
    from stdout, as click 8.2 and later always do: the tests read ``result.stderr``, which 8.1's
    default runner (stderr mixed into stdout) refuses with 'stderr not separately captured'.
    click 8.2's ``result.output`` is both streams together, so 8.1's gets stderr appended."""
    import inspect

    import click.testing

    if "mix_stderr" not in inspect.signature(click.testing.CliRunner.__init__).parameters:
        return

    class Result(click.testing.Result):
        @property
        def output(self) -> str:
            return self.stdout + self.stderr

    class CliRunner(click.testing.CliRunner):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("mix_stderr", False)
            super().__init__(*args, **kwargs)

        def invoke(self, *args, **kwargs):
            result = super().invoke(*args, **kwargs)
            result.__class__ = Result
            return result

    click.testing.CliRunner = CliRunner


_click_runner_keeps_stderr_apart()

REPO = Path(__file__).resolve().parents[1]
SHIPPED_YESNO = REPO / "egs" / "yesno" / "asr1" / "corpus"


def corpora_root() -> Path:
    return Path(os.environ.get("ASRKIT_CORPORA", REPO.parent / "shared" / "corpora")).resolve()


def need_corpus(name: str) -> Path:
    """Path of corpus ``name`` under ASRKIT_CORPORA, or skip (fail in CI) when it is missing."""
    path = corpora_root() / name
    if not path.is_dir():
        msg = f"corpus {name!r} not found at {path} (set ASRKIT_CORPORA to the folder holding an4/, fsdd/, yesno/)"
        if os.environ.get("ASRKIT_REQUIRE_CORPORA") == "1":
            pytest.fail(msg + "; ASRKIT_REQUIRE_CORPORA=1 forbids skipping", pytrace=False)
        pytest.skip(msg)
    return path


def _corpus_files(root: Path) -> dict:
    """{path: (size, mtime_ns)} of every file under ``root``: ~3700 files, a tenth of a second."""
    seen = {}
    for top, _, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen[path] = (st.st_size, st.st_mtime_ns)
    return seen


@pytest.fixture(scope="session", autouse=True)
def corpora_left_unchanged():
    """The shared corpora are read-only to every test. tests/user_corpus.py links their files into
    temporary folders, and a test that wrote to such a link changed the corpus file itself
    (root ignores the read-only mode), unseen, for every later test and run: an error here."""
    root = corpora_root()
    before = _corpus_files(root) if root.is_dir() else {}
    yield
    if not before:
        return
    after = _corpus_files(root)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        pytest.fail(f"{len(changed)} file(s) under {root} changed, appeared or went during the tests (a test wrote "
                    f"through a link into the corpus?), e.g. {', '.join(changed[:3])}: restore them", pytrace=False)


# Fixtures too costly to make once per worker (session ones, and a module's that its tests share)
# -> the xdist group of the tests using them.
SHARED_ON_ONE_WORKER = {"slurm_cluster": "slurm", "two_rank_run": "two_rank_run",
                        "torchrun_training": "torchrun_training", "one_epoch_run": "one_epoch_run",
                        "never_stopped": "never_stopped"}


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (tools/run_tests.sh) every worker would start its own Slurm cluster for
    the tests that use one (or train its own 2-rank run, tests/training/conftest.py): keep them
    together on one worker, one for all. The group is marked before the other plugins' hooks (an
    xdist worker names a group's tests in its own, which ran before a conftest's and saw no group);
    once they have run, a worker names the groups (name_groups) and puts slow files first."""
    for item in items:
        for fixture, group in SHARED_ON_ONE_WORKER.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
    yield
    if hasattr(config, "workerinput"):
        name_groups(config, items)
        slow_files_first(items)


def name_groups(config, items: list) -> None:
    """Give each test of an xdist_group the id ``<nodeid>@<group>`` that --dist loadgroup sends to one
    worker by. pytest-xdist 3.8 sets it as ``item._nodeid``, which pytest 9.2 no longer reads (a
    node's id is ``item._id``): every group was split over the workers, each of which started a
    Slurm cluster and trained the 2-rank run for its share."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                  for m in item.iter_markers("xdist_group")}
        nodeid = item.nodeid
        if not groups or nodeid.rfind("@") > nodeid.rfind("]"):  # none, or named by xdist already
            continue
        nodeid += "@" + "_".join(sorted(groups))
        if hasattr(item, "_id"):
            item._id = type(item._id).parse(nodeid)
        else:
            item._nodeid = nodeid


def slow_files_first(items: list) -> None:
    """Put the test files holding ``slow``-marked tests first (the most such tests first), each
    file's tests in their order. xdist hands tests out in this order (the xdist groups go before
    any, largest first): in file order a 6-minute recipe test could start with minutes of work
    left, and one worker ran it alone while the other stood idle. Whole files move, so a file's
    module fixtures are made no more often than before."""
    def file_of(item) -> str:
        return item.nodeid.split("::", 1)[0]

    slow = {}
    for item in items:
        if item.get_closest_marker("slow") is not None:
            slow[file_of(item)] = slow.get(file_of(item), 0) + 1
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-slow.get(file_of(item), 0), position[id(item)]))


@pytest.fixture(scope="session")
def an4_root() -> Path:
    return need_corpus("an4")


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    return need_corpus("fsdd")


@pytest.fixture(scope="session")
def yesno_root() -> Path:
    """The yesno waves: from ASRKIT_CORPORA, else the copy shipped in egs/yesno (always there)."""
    path = corpora_root() / "yesno"
    if path.is_dir():
        return path
    return SHIPPED_YESNO


@pytest.fixture
def asrkit():
    return run_asrkit


@pytest.fixture(params=[True, False], ids=["PYTHONUNBUFFERED", "buffered"])
def unbuffered(request, monkeypatch) -> bool:
    """A new interpreter's stdio with PYTHONUNBUFFERED=1 (Docker images, batch jobs, this
    environment) and without it (a shell user's default), where failed writes differ: unbuffered,
    a raw write may take part of the data; buffered, what failed is kept for the exit flush."""
    if request.param:
        monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    else:
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    return request.param
