"""Training a sentencepiece tokenizer (char, bpe or unigram) from transcripts, in memory.

Sentences go to sentencepiece through an iterator and the model comes back as bytes, so no
temporary file is ever left behind; the caller writes ``tokens.model`` and ``tokens.txt``
atomically. Training is deterministic: a fixed seed and one thread.
"""
from __future__ import annotations

import functools
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

from asrkit.data.table import read_table
from asrkit.text.token_list import BLANK, SOS_EOS, UNK
from asrkit.utils.config import to_dict
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike

if TYPE_CHECKING:
    from asrkit.text.tokenizer import Tokenizer

MODEL_TYPES = ("char", "bpe", "unigram")
RESERVED = (BLANK, UNK, SOS_EOS, "<s>", "</s>", "<pad>")
MIN_CHARACTER_COVERAGE = 0.98  # sentencepiece's own lower bound (trainer_interface.cc)
# Above any tokenizer an ASR model has (the largest multilingual ones have ~256k pieces) and within
# what Tokenizer.load reads (a 1M-piece model is ~20 MB of its 64 MiB). Sentencepiece itself
# takes an int32: 2**31 was a ValueError traceback ("cannot parse ... as int"), and a unigram
# model of 2**31 - 1 never returned, past Ctrl-C, on a one-line text.
MAX_VOCAB_SIZE = 1_000_000
# A user-defined symbol is a tag such as <noise>: sentencepiece refuses one of 8000 UTF-8 bytes
# or more only as a RuntimeError traceback ("INTERNAL: piece is too long"), after the text is read.
MAX_SYMBOL_BYTES = 1000
# sentencepiece's unigram trainer builds a lattice over each word (a run without spaces): a word
# of ~140,000 characters failed after ~20 s with only "[std::isfinite(score)]", and one of
# 1,000,000 ran for minutes. No spoken word is that long; such a "word" is a damaged line or a
# transcript that lost its spaces. bpe and char take it (2M characters in about a second).
MAX_UNIGRAM_WORD = 65_536
# sentencepiece before 0.2.3 (the newest for Python 3.9 is 0.2.2) indexes a bpe word's symbols
# with 16 bits: a longer word aborts the whole process ("Check failed: r <= ...<uint16_t>::max()
# (65536 vs. 65535)", a core dump, no Python error). 0.2.3 takes it.
MAX_OLD_BPE_WORD = 65_535


@functools.lru_cache(maxsize=None)
def bpe_word_limit() -> Optional[int]:
    """The longest word the installed sentencepiece's bpe trainer takes; None when it has no limit."""
    import sentencepiece

    version = tuple(int(p) for p in re.findall(r"\d+", sentencepiece.__version__)[:3])
    return MAX_OLD_BPE_WORD if version < (0, 2, 3) else None


@dataclass
class TokenizerConfig:
    model_type: str = "bpe"
    # Sentencepiece's vocabulary, its <unk> included; asrkit adds <blank> and <sos/eos>, so the
    # model's output size is vocab_size + 2. None for char means "every character in the text".
    vocab_size: Optional[int] = None
    character_coverage: float = 1.0
    user_defined_symbols: List[str] = field(default_factory=list)
    # "identity" keeps the transcript's characters as they are (nmt_nfkc would rewrite, e.g.,
    # full-width forms), so decode(encode(x)) gives x back up to whitespace.
    normalization: str = "identity"
    seed: int = 0

    def check(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise AsrkitError(f"unknown model type {self.model_type!r} (choose from {', '.join(MODEL_TYPES)})")
        if self.vocab_size is None and self.model_type != "char":
            raise AsrkitError(f"--vocab-size is required for a {self.model_type} model")
        if self.vocab_size is not None and self.vocab_size < 2:
            raise AsrkitError(f"vocabulary size must be at least 2, got {self.vocab_size}")
        if self.vocab_size is not None and self.vocab_size > MAX_VOCAB_SIZE:
            raise AsrkitError(f"--vocab-size {self.vocab_size}: more than the {MAX_VOCAB_SIZE:,} pieces asrkit "
                              f"trains (a few thousand is usual for ASR)")
        # Sentencepiece refuses a coverage below 0.98 only as "INTERNAL: trainer_interface.cc(94)
        # [trainer_spec.character_coverage() >= 0.98 && ...]", which says neither option nor range.
        if not MIN_CHARACTER_COVERAGE <= self.character_coverage <= 1:
            raise AsrkitError(f"--character-coverage {self.character_coverage:g}: must be in "
                              f"[{MIN_CHARACTER_COVERAGE:g}, 1] (sentencepiece's range; 0.9995 is usual for a "
                              f"language with many characters, 1.0 for the rest)")
        # Sentencepiece's seed is an unsigned 32-bit number: -1 or 2**32 was pybind's TypeError
        # "SetRandomGeneratorSeed(): incompatible function arguments" as a traceback.
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise AsrkitError(f"--seed {self.seed}: must be a whole number in [0, 2**32 - 1] (sentencepiece's "
                              f"seed is unsigned 32-bit)")
        from asrkit.text.tokenizer import bad_character

        # sentencepiece's own words for a repeat ("INTERNAL: a is already defined") come only after
        # the transcripts are read, and name no option
        seen = set()
        for sym in self.user_defined_symbols:
            if sym in seen:
                raise AsrkitError(f"--user-defined-symbols: {sym!r} is listed twice")
            seen.add(sym)
            if sym in RESERVED or not sym or any(c.isspace() for c in sym):
                raise AsrkitError(f"user-defined symbol {sym!r} is reserved or contains whitespace")
            # A byte that is not UTF-8 on the command line (held as a lone surrogate) was
            # sentencepiece's TypeError traceback ("incompatible function arguments").
            try:
                size = len(sym.encode("utf-8"))
            except UnicodeEncodeError:
                raise AsrkitError(f"user-defined symbol {sym!r}: not UTF-8 text") from None
            if size > MAX_SYMBOL_BYTES:
                raise AsrkitError(f"user-defined symbol {sym[:20]!r}... is {size} bytes long, more than the "
                                  f"{MAX_SYMBOL_BYTES} a symbol (a tag such as <noise>) may have")
            # what no transcript may hold, no symbol may either: it could never be matched
            why = bad_character(sym)
            if why is not None:
                raise AsrkitError(f"user-defined symbol {sym!r} holds {why}")

    def to_dict(self) -> Dict:
        return to_dict(self)


def transcript_problem(text: str, model_type: str) -> Optional[str]:
    """Why ``text`` cannot be a transcript to train a ``model_type`` tokenizer on, or None."""
    from asrkit.text.tokenizer import bad_character

    why = bad_character(text)
    if why is None and model_type in ("unigram", "bpe") and len(text) > MAX_OLD_BPE_WORD:
        longest = max(len(w) for w in text.split()) if text.strip() else 0
        if model_type == "unigram" and longest > MAX_UNIGRAM_WORD:
            why = (f"a word of {longest:,} characters, more than the {MAX_UNIGRAM_WORD:,} sentencepiece's unigram "
                   f"trainer takes (it fails on such a word after minutes; bpe and char take it)")
        elif model_type == "bpe" and longest > (bpe_word_limit() or longest):
            why = (f"a word of {longest:,} characters, more than the {bpe_word_limit():,} the bpe trainer of "
                   f"sentencepiece < 0.2.3 takes (it aborts the process; sentencepiece 0.2.3 takes it)")
    return why


def not_nfc(utts: Iterable[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """``(utt_id, first word not in NFC)`` of each transcript not in Unicode's composed form (NFC).

    Sentencepiece is trained on the text as it is (``identity``), so 'é' typed as e + U+0301 (a
    macOS file name, a web page) is other pieces than the composed U+00E9, and the same word in the
    two forms two words to the tokenizer, the model and asrkit-score. The text is the user's: it
    is not rewritten, but the caller says so."""
    found = []
    for utt, text in utts:
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            found.append((utt, next(w for w in text.split() if not unicodedata.is_normalized("NFC", w))))
    return found


def read_kaldi_text(path: PathLike) -> List[Tuple[str, str]]:
    """``(utt_id, transcript)`` pairs of a Kaldi ``text`` file; errors name file:line."""
    from asrkit.data.not_a_text import read_again, refuse_other_file

    try:
        utts = list(read_table(path, allow_empty_value=True).items())
    except AsrkitError as e:
        # A plain text of sentences (the first words taken for ids) said only "duplicate key 'the'".
        if "duplicate key" not in str(e):
            raise
        refuse_other_file(path, read_again(path), _NOT_A_TEXT)  # a CTM of several words an utterance
        raise AsrkitError(f"{e}; a tokenizer is trained on a Kaldi text ('<utt-id> <transcript>' lines): for a "
                          f"plain text of sentences, put an id before each (awk '{{print NR, $0}}')") from None
    refuse_other_file(path, utts, _NOT_A_TEXT)
    # A sclite trn file (ESPnet's ref.trn): its first words were taken for ids and its ids, as
    # '(spk-utt)' words, trained on: '(', ')', digits and '-' became tokens, with exit 0.
    ends = [t.rsplit(None, 1)[-1] if t else utt for utt, t in utts]  # ('(s-1)' alone: a trn line of no words)
    # (a trn file's ids differ and look like ids; tags that end a Kaldi text's lines, '(noise)'
    # '(laugh)', repeat or are words)
    if (len(utts) > 1 and all(_TRN_ID.fullmatch(e) for e in ends) and len(set(ends)) == len(ends)
            and all(re.search(r"[0-9_-]", e) for e in ends)):
        raise AsrkitError(f"{path}: every line ends in a '(<id>)', as in a sclite trn file ('<transcript> "
                          f"(<utt-id>)', e.g. {utts[0][0]} ... {ends[0]}): a tokenizer is trained on a Kaldi text "
                          f"('<utt-id> <transcript>' lines), such as data/train/text")
    return utts


_TRN_ID = re.compile(r"\([^()\s]+\)")


# What a wav.scp, a segments file or a CTM given for the text is told (a tokenizer was trained on
# its paths or times with exit 0: '/', '.', 'w', 'a', 'v' or digits became its tokens).
_NOT_A_TEXT = ("not a text: a tokenizer is trained on a Kaldi text ('<utt-id> <transcript>' lines), such as "
               "data/train/text")


def train_sentencepiece(sentences: Iterable[str], config: TokenizerConfig, verbose: bool = False,
                        where: Optional[str] = None) -> bytes:
    """Train on ``sentences`` (empty ones skipped) and return the serialized model; ``where``
    (the text file) names what is wrong with the transcripts themselves."""
    config.check()
    from asrkit.text.tokenizer import words

    # (not at U+001C..U+001F: left in, the check below names them)
    sents = [s for s in (" ".join(words(s)) for s in sentences) if s]
    if not sents:
        raise AsrkitError("no non-empty transcript to train a tokenizer on")
    for n, s in enumerate(sents, 1):
        why = transcript_problem(s, config.model_type)
        if why:
            raise AsrkitError(f"transcript {n} has {why}: clean the text before training a tokenizer on it")
    vocab_size = config.vocab_size
    hard_limit = True
    if config.model_type == "char" and vocab_size is None:
        vocab_size = _char_pieces(sents, config)
        hard_limit = False
    import sentencepiece as spm

    spm.set_random_generator_seed(config.seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sents),
            model_writer=model,
            model_type=config.model_type,
            vocab_size=vocab_size,
            hard_vocab_limit=hard_limit,
            character_coverage=config.character_coverage,
            normalization_rule_name=config.normalization,
            user_defined_symbols=list(config.user_defined_symbols),
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            num_threads=1,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            # sentencepiece drops sentences over 4192 bytes without a word (all of them: a cryptic
            # "!sentences_.empty()"); a long transcript is still a transcript
            max_sentence_length=max(4192, max(len(s.encode()) for s in sents) + 1),
            minloglevel=0 if verbose else 2,
        )
    except RuntimeError as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
        # sentencepiece's own source location and assertion go: "INTERNAL: src/x.cc(744) [(a) == (b)] "
        msg = re.sub(r"^[A-Z_]+: \S+\.cc\(\d+\) (\[.*?\] )?", "", msg)
        # "Vocabulary size too high" wants a smaller one; "smaller than required_chars" a larger one
        hint = (" (use a smaller --vocab-size)" if "too high" in msg else
                " (use a larger --vocab-size, or a --character-coverage below 1)" if "smaller than" in msg else "")
        raise AsrkitError(f"sentencepiece training failed: {msg}{hint}") from None
    if config.model_type == "char" and config.vocab_size is not None:
        _check_char_vocab(model.getvalue(), sents, config)
    _refuse_no_pieces(model.getvalue(), where)
    return model.getvalue()


def _refuse_no_pieces(model: bytes, where: Optional[str]) -> None:
    """Sentencepiece reads the word ``<unk>`` in a transcript (Kaldi's unknown word) as its unknown
    symbol, not as characters: a text of nothing else trained, with exit 0, a tokenizer of no
    piece but the word boundary, whose every model could write nothing but '⁇'."""
    import sentencepiece as spm

    from asrkit.text.tokenizer import META

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model)
    if any(sp.id_to_piece(i) != META for i in range(1, sp.get_piece_size())):
        return
    raise AsrkitError(f"{where + ': ' if where else ''}the transcripts hold no word but {UNK} (the unknown word, "
                      f"not characters to the tokenizer): a tokenizer of them would have no token that spells "
                      f"anything; train it on transcripts of words")


def _char_pieces(sents: List[str], config: TokenizerConfig) -> int:
    """How many pieces a char model of ``sents`` has: every distinct character, the user
    symbols, the word-boundary piece and <unk>. A symbol that is one of the text's characters
    ('a') is one piece, not two: counted twice, --vocab-size N was "too small, use N + 1" and
    N + 1 "too high, use N", with no size accepted."""
    chars = {c for s in sents for c in s if not c.isspace()}
    return len(chars | set(config.user_defined_symbols)) + 2


def _check_char_vocab(model: bytes, sents: List[str], config: TokenizerConfig) -> None:
    """Sentencepiece's char trainer takes any --vocab-size without a word: too small, it keeps the
    most frequent characters and every other one of the text silently becomes <unk>; too large,
    it gives fewer pieces. Both are errors here, as they are for bpe and unigram."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model)
    needed = _char_pieces(sents, config)
    got = sp.get_piece_size()
    if got < config.vocab_size:
        raise AsrkitError(f"Vocabulary size too high ({config.vocab_size}) for a char model of this text: it has "
                          f"{got} pieces (use --vocab-size {got}, or leave it out for every character)")
    if config.character_coverage >= 1.0 and got < needed:
        pieces = {sp.id_to_piece(i) for i in range(sp.get_piece_size())}
        lost = sorted({c for s in sents for c in s if not c.isspace() and c not in pieces})
        shown = " ".join(repr(c) for c in lost[:10]) + (" ..." if len(lost) > 10 else "")
        raise AsrkitError(f"--vocab-size {config.vocab_size} is too small for a char model of this text: "
                          f"{len(lost)} of its characters would become <unk> ({shown}); use --vocab-size "
                          f"{needed}, leave it out for every character, or lower --character-coverage")


def train_tokenizer(sentences: Iterable[str], config: TokenizerConfig, verbose: bool = False) -> "Tokenizer":
    from asrkit.text.tokenizer import Tokenizer

    return Tokenizer.from_bytes(train_sentencepiece(sentences, config, verbose))
