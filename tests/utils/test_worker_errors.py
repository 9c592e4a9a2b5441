"""An error raised in a DataLoader worker reaches the user as the one line it would be in the
main process: torch re-raises it with the worker's traceback as its message (and an OSError
without its errno), which used to print as a traceback or look like a bug."""
import errno

import pytest
import torch
from click.testing import CliRunner

from asrkit.cli._common import asrkit_command
from asrkit.utils.errors import AsrkitError, from_worker


class _Failing(torch.utils.data.Dataset):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        if self.kind == "os":
            raise PermissionError(errno.EACCES, "Permission denied", "/data/x/feats.ark")
        if self.kind == "asrkit":
            raise AsrkitError("data/noise/wav.scp:3: recording 'n1' is empty\nsecond line kept")
        raise ZeroDivisionError("a bug")


def _command(kind: str):
    @asrkit_command("worker-test")
    def cmd():
        for _ in torch.utils.data.DataLoader(_Failing(kind), num_workers=1):
            pass

    return cmd


def test_asrkit_error_from_a_worker_is_one_clean_message():
    result = CliRunner().invoke(_command("asrkit"), [])
    assert result.exit_code == 1
    assert "ERROR (asrkit-worker-test): data/noise/wav.scp:3: recording 'n1' is empty\nsecond line kept" \
        in result.stderr
    assert "Traceback" not in result.stderr and "DataLoader worker" not in result.stderr


def test_machine_error_from_a_worker_names_the_path():
    result = CliRunner().invoke(_command("os"), [])
    assert result.exit_code == 1
    assert "ERROR (asrkit-worker-test): /data/x/feats.ark: permission denied" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bug_in_a_worker_still_shows_its_traceback():
    result = CliRunner().invoke(_command("bug"), [])
    assert result.exit_code != 0
    assert isinstance(result.exception, ZeroDivisionError)
    assert "Original Traceback" in str(result.exception)


def test_from_worker_leaves_main_process_errors_alone():
    e = AsrkitError("plain: message")
    assert from_worker(e) is e
    o = OSError(errno.ENOSPC, "No space left on device", "/x")
    assert from_worker(o) is o
