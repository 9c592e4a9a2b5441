"""bin/parse_options.sh: Kaldi's option semantics, which every recipe script relies on."""
from __future__ import annotations

import textwrap

import pytest

from recipe_helpers import REPO, run_sh

PARSE = REPO / "bin" / "parse_options.sh"


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "demo.sh"
    path.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        # Demo script: prints its options.
        #   e.g. demo.sh --nj 8 data/train
        set -euo pipefail
        nj=4
        train_config=conf/train.yaml
        use_lm=false
        test_sets="dev test"
        . {PARSE}
        echo "nj=$nj train_config=$train_config use_lm=$use_lm test_sets=$test_sets args=$#:$*"
        """))
    path.chmod(0o755)
    return path


def test_options_set_variables(script, tmp_path):
    out = run_sh([str(script), "--nj", "8", "--train-config=conf/x.yaml", "--use-lm", "true",
                  "--test-sets", "a b", "data/train", "--not-an-option"], cwd=tmp_path).stdout
    assert out.strip() == "nj=8 train_config=conf/x.yaml use_lm=true test_sets=a b args=2:data/train --not-an-option"


def test_defaults_and_double_dash(script, tmp_path):
    out = run_sh([str(script), "--", "--nj"], cwd=tmp_path).stdout
    assert out.strip() == "nj=4 train_config=conf/train.yaml use_lm=false test_sets=dev test args=1:--nj"


@pytest.mark.parametrize("args, message", [
    (["--bogus", "1"], "unknown option --bogus"),
    (["--nj"], "option --nj needs a value"),
    (["--nj", "2", "--ngpus"], "unknown option --ngpus"),  # last, without a value: "needs a value" misled
    (["--use-lm", "yes"], "option --use-lm takes true or false, got 'yes'"),
    (["--nj", "abc"], "option --nj takes an integer, got 'abc'"),
    (["--nj=2x"], "option --nj takes an integer, got '2x'"),
    (["--nj", "1.5"], "option --nj takes an integer, got '1.5'"),
    (["--nj", "99999999999999999999"], "option --nj takes an integer, got '99999999999999999999'"),  # wrapped
    (["--config", "missing.conf"], "--config missing.conf: no such file"),
    (["--PATH", "x"], "unknown option --PATH"),  # never an environment variable
    (["--_po-name", "x"], "unknown option --_po-name"),
    (["--a;b", "x"], "unknown option --a;b"),
])
def test_bad_options_fail_with_a_message(script, tmp_path, args, message):
    proc = run_sh([str(script), *args], cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc
    assert message in proc.stderr
    assert proc.stdout == ""


def test_an_unknown_option_with_a_hint_is_named_with_it(script, tmp_path):
    """A script's parse_options_hints (asr.sh's: ESPnet's names) follow its unknown-option error,
    whichever of '_' or '-' the name was typed with; other unknown options are named as before."""
    text = script.read_text().replace("nj=4\n", "nj=4\ndeclare -A parse_options_hints=([asr_config]='try --train-config')\n")
    script.write_text(text)
    for opt in ("--asr_config", "--asr-config"):
        proc = run_sh([str(script), opt, "x.yaml"], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and proc.stderr == f"{script}: unknown option {opt} (see {script} --help): try --train-config\n"
    proc = run_sh([str(script), "--asr_configs", "x"], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr == f"{script}: unknown option --asr_configs (see {script} --help)\n"
    proc = run_sh([str(script), "--a;b", "x"], cwd=tmp_path, check=False)  # not a name: no lookup
    assert proc.returncode == 1 and proc.stderr == f"{script}: unknown option --a;b (see {script} --help)\n"


def test_negative_integers_are_integers(script, tmp_path):
    assert "nj=-1 " in run_sh([str(script), "--nj", "-1"], cwd=tmp_path).stdout  # the script judges the range


def test_integers_with_a_leading_zero_are_decimal(script, tmp_path):
    """bash's arithmetic reads 09 as a bad octal number: './run.sh --stage 09' failed in run.sh's
    $(( )) with 'value too great for base', and --nj 010 was 8 there."""
    assert "nj=9 " in run_sh([str(script), "--nj", "09"], cwd=tmp_path).stdout
    assert "nj=10 " in run_sh([str(script), "--nj=010"], cwd=tmp_path).stdout
    assert "nj=-8 " in run_sh([str(script), "--nj", "-08"], cwd=tmp_path).stdout


def test_config_file(script, tmp_path):
    (tmp_path / "my.conf").write_text("nj=2\nuse_lm=true\n")
    out = run_sh([str(script), "--config", "my.conf", "--nj", "3"], cwd=tmp_path).stdout
    assert "nj=3 " in out and "use_lm=true" in out


def test_config_file_lines_are_checked_and_passed_on_as_options(script, tmp_path):
    """Sourced, a config file's bad value escaped the checks (nj=abc reached the script), and a
    name the script does not define was set and dropped (run.sh's train_config, meant for asr.sh)."""
    conf = tmp_path / "c.conf"
    conf.write_text('# a comment\n\nnj=2  # two jobs\ntest_sets="a b"\ntrain_config=\'x y.yaml\'\r\n')
    out = run_sh([str(script), "--config", "c.conf"], cwd=tmp_path).stdout
    assert out.strip() == "nj=2 train_config=x y.yaml use_lm=false test_sets=a b args=0:"
    # saved with a byte-order mark (Windows): the first line was 'expected name=value, got: nj=2'
    conf.write_bytes(b"\xef\xbb\xbfnj=2\r\n")
    assert run_sh([str(script), "--config", "c.conf"], cwd=tmp_path).stdout.startswith("nj=2 ")
    for text, message in (("nj=abc\n", "option --nj takes an integer, got 'abc'"),
                          ("bogus=1\n", "unknown option --bogus"),
                          ("nj=2\nexport X=1\n", "--config c.conf:2: expected name=value"),
                          # ESPnet's habit, a YAML config as --config: said as such
                          ("# training\nmodel:\n  dim: 4\n", "--config c.conf:2: expected name=value (a value with "
                           "spaces in quotes), got: model: (a YAML file? --config takes this script's options"),
                          ("nj=$(id)\n", "option --nj takes an integer, got '$(id)'")):  # a value, never run
        conf.write_text(text)
        proc = run_sh([str(script), "--config", "c.conf"], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr and proc.stdout == "", (text, proc.stderr)
    conf.write_text("train_config=\"$(touch ran)x.yaml\"\n")
    out = run_sh([str(script), "--config", "c.conf"], cwd=tmp_path).stdout
    assert "train_config=$(touch ran)x.yaml" in out and not (tmp_path / "ran").exists()
    # with passthrough (a recipe's run.sh), the names it does not know go on to asr.sh
    path = tmp_path / "p.sh"
    path.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\nroot=\nparse_options_passthrough=true\n. {PARSE}\n'
                    f'echo "root=$root"; printf "<%s>" "${{passthrough_args[@]}}"; echo\n')
    path.chmod(0o755)
    conf.write_text("root=/c\ntrain_config=conf/x.yaml\n")
    assert run_sh([str(path), "--config", "c.conf"], cwd=tmp_path).stdout.splitlines() == \
        ["root=/c", "<--train-config><conf/x.yaml>"]


def test_a_config_file_that_includes_itself_is_refused(script, tmp_path):
    """config=c.conf in c.conf (or a.conf and b.conf naming each other) read the file into the
    arguments again and again: the script hung, its memory growing. A file read twice one after
    the other, or named by two others, is no loop."""
    (tmp_path / "c.conf").write_text("nj=2\nconfig=c.conf\n")
    (tmp_path / "a.conf").write_text("nj=3\nconfig=b.conf\n")
    (tmp_path / "b.conf").write_text("use_lm=true\nconfig=a.conf\n")
    for args, message in ((["--config", "c.conf"], "--config c.conf: includes itself (a config=c.conf line)"),
                          (["--config", "a.conf"], "--config a.conf: includes itself through --config b.conf")):
        proc = run_sh([str(script), *args], cwd=tmp_path, check=False, timeout=30)
        assert proc.returncode == 1 and message in proc.stderr and proc.stdout == "", proc
    (tmp_path / "one.conf").write_text("nj=5\n")
    (tmp_path / "two.conf").write_text("config=one.conf\nuse_lm=true\n")
    out = run_sh([str(script), "--config", "two.conf", "--config", "one.conf", "--config", "two.conf"],
                 cwd=tmp_path, timeout=30).stdout
    assert out.startswith("nj=5 ") and "use_lm=true" in out


def test_help_prints_the_header_and_exits_0(script, tmp_path):
    proc = run_sh([str(script), "--help"], cwd=tmp_path)
    assert proc.stdout.splitlines()[:2] == ["Demo script: prints its options.", "  e.g. demo.sh --nj 8 data/train"]
    assert "nj=" not in proc.stdout


def test_help_message_variable_wins(tmp_path):
    path = tmp_path / "h.sh"
    path.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\nx=1\nhelp_message="Usage: h.sh <dir>\ne.g.: h.sh data"\n'
                    f'. {PARSE}\necho ran\n')
    path.chmod(0o755)
    assert run_sh([str(path), "-h"], cwd=tmp_path).stdout == "Usage: h.sh <dir>\ne.g.: h.sh data\n"


def test_passthrough_keeps_unknown_options(tmp_path):
    path = tmp_path / "p.sh"
    path.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\nroot=\nparse_options_passthrough=true\n. {PARSE}\n'
                    f'echo "root=$root"; printf "<%s>" "${{passthrough_args[@]}}" "$@"; echo\n')
    path.chmod(0o755)
    out = run_sh([str(path), "--nj", "2", "--root", "/c", "--tag=a b", "x"], cwd=tmp_path).stdout.splitlines()
    assert out == ["root=/c", "<--nj><2><--tag><a b><x>"]


@pytest.mark.parametrize("args, message", [
    # hinted "--stage 4" (asr.sh's reading of the 4 alone), "--nj 3 4" too
    (["--stage", "3", "4"], "unexpected argument 4 after --stage 3: to run stages 3 to 4, give --stage 3 --stop-stage 4"),
    (["--stage=3", "4"], "unexpected argument 4 after --stage 3: to run stages 3 to 4, give --stage 3 --stop-stage 4"),
    (["3", "5"], "unexpected arguments: 3 5: stages are options: give --stage 3 --stop-stage 5"),
    (["--nj", "3", "4"], "unexpected argument 4 after --nj 3: an option takes one value (see"),  # passed through
    (["--test-sets", "dev", "test"], 'unexpected argument test after --test-sets dev: an option takes one value (a '
                                     'list goes in quotes: '
                                     '--test-sets "dev test"'),
    (["extra"], "unexpected arguments: extra (see"),
    # a --config file's lines are no option typed before the argument (it said 'after --tag mine:
    # a list goes in quotes: --tag "mine 4"', the file's last line); one typed after it still is
    (["--config", "c.conf", "4"], "unexpected arguments: 4: stages are options: give --stage 4"),
    (["--stage", "3", "--config", "c.conf", "extra"], "unexpected arguments: extra (see"),
    (["--config", "c.conf", "--stage", "3", "4"], "unexpected argument 4 after --stage 3: to run stages 3 to 4"),
])
def test_an_argument_left_to_a_script_with_stages_is_named_as_what_it_was_meant(tmp_path, args, message):
    (tmp_path / "c.conf").write_text("nj=2\ntag=mine\n")
    path = tmp_path / "run.sh"
    path.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\nstage=0\nstop_stage=100\nparse_options_passthrough=true\n'
                    f'. {PARSE}\necho ran\n')
    path.chmod(0o755)
    proc = run_sh([str(path), *args], cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stdout == "" and f"{path}: {message}" in proc.stderr, proc.stderr
