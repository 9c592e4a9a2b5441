"""tools/install.sh's pip commands, in a checkout whose tools/venv is a stub that records them."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _install(tmp_path: Path, pip_help: str) -> list[str]:
    """Run install.sh against a tools/venv whose pip logs its commands and answers
    `pip install --help` with `pip_help`; return the logged commands."""
    root = tmp_path / "checkout"
    bin_dir = root / "tools/venv/bin"
    bin_dir.mkdir(parents=True)
    shutil.copy(REPO / "tools/install.sh", root / "tools/install.sh")
    log = tmp_path / "pip.log"
    (bin_dir / "activate").write_text(f'PATH="{bin_dir}:$PATH"\n')
    (bin_dir / "pip").write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "install --help" ]; then echo "{pip_help}"; exit 0; fi\n'
        f'echo "$*" >> "{log}"\n')
    (bin_dir / "python").write_text("#!/bin/sh\ncat > /dev/null\n")   # install.sh's import check
    for f in ("pip", "python"):
        (bin_dir / f).chmod(0o755)
    proc = subprocess.run(["bash", str(root / "tools/install.sh")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line for line in log.read_text().splitlines() if " -e " in line]


def test_asrkit_is_installed_as_a_path_not_an_import_hook(tmp_path):
    """setuptools' default editable install is an import hook that Python asks after its own path
    search: run beside a clone named asrkit (`git clone .../asrkit`, a script in its parent folder),
    `from asrkit import Transcriber` found that folder as an empty namespace package and failed with
    "cannot import name 'Transcriber' from 'asrkit' (unknown location)". editable_mode=compat puts
    the checkout itself on sys.path, ahead of a folder that is no package."""
    [editable] = _install(tmp_path, "  --config-settings <settings>  Configuration settings ...")
    assert editable.endswith(f"-e {tmp_path}/checkout[test] --config-settings editable_mode=compat")


def test_a_pip_without_config_settings_installs_as_before(tmp_path):
    """pip before 22.1 has no --config-settings (it runs setup.py develop, a path line already)."""
    [editable] = _install(tmp_path, "  --no-deps  Don't install package dependencies.")
    assert editable.endswith(f"-e {tmp_path}/checkout[test]")


def test_a_folder_named_asrkit_beside_a_script_does_not_hide_the_package(tmp_path):
    """The symptom itself, in the environment that runs the suite: a script in a clone's parent
    folder (a folder named asrkit beside it, no __init__.py at that level) imported that folder as an
    empty namespace package. Fails in a venv where asrkit went in through setuptools' import hook
    (a plain `pip install -e .`): re-run tools/install.sh there."""
    (tmp_path / "asrkit").mkdir()
    proc = subprocess.run([sys.executable, "-c", "import asrkit; print(asrkit.__file__)"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(REPO / "asrkit" / "__init__.py"), (
        f"{sys.executable}: import asrkit beside a folder named asrkit found {proc.stdout.strip()} (re-run "
        f"tools/install.sh: asrkit is installed through setuptools' import hook)")
