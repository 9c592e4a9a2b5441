"""A new recipe's local/data.sh on a transcript format of the corpus's own, converted where its
header says (LJSpeech's metadata.csv, 'id|text|normalized text')."""
from __future__ import annotations

from recipe_helpers import new_recipe, read_table, run_sh
from user_corpus import make_ljspeech_corpus


def test_the_headers_awk_line_runs_where_the_marked_place_is(tmp_path, an4_root):
    # The header said to write the conversion into data/local/ "first": put at the top, it ran
    # before $corpus_root was set and, in a new recipe, before data/local/ existed
    # ('data/local/prompts.txt: No such file or directory').
    recipe = new_recipe(tmp_path)
    corpus = tmp_path / "LJSpeech-1.1"
    expected = {f"mine-{key}": words for key, words in make_ljspeech_corpus(an4_root, corpus, 12).items()}
    script = recipe / "local" / "data.sh"
    text = script.read_text()
    example = "# awk -F'|' '{ print $1, $NF }' \"$corpus_root/metadata.csv\" > data/local/prompts.txt\n"
    marked = "# ---- a transcript format of the corpus's own"
    assert text.count(example) == 1 and text.index(marked) < text.index(example), "no marked place"
    # what the user does: uncomment the example there, set transcripts= and the audio folder
    text = text.replace(example, example[2:]).replace("\ntranscripts=  ", "\ntranscripts=data/local/prompts.txt  ")
    text = text.replace("\naudio_subdir=  ", "\naudio_subdir=wavs")
    script.write_text(text)
    proc = run_sh(["./run.sh", "--corpus-root", str(corpus), "--stop-stage", "0"], cwd=recipe, check=False)
    assert proc.returncode == 0, proc.stderr
    assert read_table(recipe / "data" / "all" / "text") == expected
