"""asrkit-train-lm's config: typed model section, errors before any text is read."""
from __future__ import annotations

from click.testing import CliRunner


def _run_inproc(*args):
    from asrkit.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stderr


def test_model_typo_fails_when_the_config_loads(tmp_path):
    conf = tmp_path / "lm.yaml"
    conf.write_text("model: {hiden: 32}\nmax_epochs: 2\n")
    code, err = _run_inproc("train-lm", "--config", conf, "--lang-dir", tmp_path / "no_such_lang",
                            tmp_path / "no_such_text", tmp_path / "lm")
    assert code == 1
    assert f"ERROR (asrkit-train-lm): {conf}: unknown key 'model.hiden' (known: embed, hidden" in err
    assert "no_such_text" not in err and "no_such_lang" not in err
    assert not (tmp_path / "lm").exists()
