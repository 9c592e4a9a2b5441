"""bin/parse_options.sh: an option's kind (true/false, integer, anything) is its default's, not the
value an earlier option or a --config file gave it in the same command line."""
from __future__ import annotations

import textwrap

from recipe_helpers import REPO, run_sh

PARSE = REPO / "bin" / "parse_options.sh"


def make_script(tmp_path):
    path = tmp_path / "demo.sh"
    path.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        set -euo pipefail
        lm_weight=0.3
        tag=
        use_lm=false
        nj=4
        . {PARSE}
        echo "lm_weight=$lm_weight tag=$tag use_lm=$use_lm nj=$nj"
        """))
    path.chmod(0o755)
    return path


def test_a_value_given_earlier_does_not_change_the_kind(tmp_path):
    demo = make_script(tmp_path)
    # Kaldi's use of --config: a file of settings, then one of them overridden on the command line.
    (tmp_path / "run.conf").write_text("lm_weight=1\ntag=2024\n")
    out = run_sh([str(demo), "--config", "run.conf", "--lm-weight", "0.4", "--tag", "mine"], cwd=tmp_path).stdout
    assert out.strip() == "lm_weight=0.4 tag=mine use_lm=false nj=4"
    out = run_sh([str(demo), "--tag", "true", "--tag", "final", "--lm-weight", "1", "--lm-weight=0.5"],
                 cwd=tmp_path).stdout
    assert out.strip() == "lm_weight=0.5 tag=final use_lm=false nj=4"
    # ...and the kinds of the defaults still hold, for a second value as for a first.
    for args, message in ((["--nj", "3", "--nj", "x"], "option --nj takes an integer, got 'x'"),
                          (["--use-lm", "true", "--use-lm", "1"], "option --use-lm takes true or false, got '1'")):
        proc = run_sh([str(demo), *args], cwd=tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    # (its bookkeeping is not left in the script that sourced it)
    demo.write_text(demo.read_text().replace('echo "lm', 'declare -p _po_kinds 2>/dev/null && exit 3; echo "lm'))
    run_sh([str(demo), "--nj", "2"], cwd=tmp_path)
