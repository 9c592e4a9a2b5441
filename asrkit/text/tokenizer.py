"""The tokenizer every stage shares: a sentencepiece model with asrkit's id layout.

Sentencepiece numbers its pieces from 0 with ``<unk>`` at 0 (asrkit trains it with no ``<s>``,
``</s>`` or ``<pad>``). asrkit's ids (docs/contracts.md) put the CTC blank first and one
``<sos/eos>`` last, so the mapping is explicit and fixed::

    asrkit id   0         1        2 .. V-2              V-1
    token       <blank>   <unk>    sentencepiece 1..V-3  <sos/eos>
    sp id       -         0        1 .. V-3              -

that is ``ours = sp + 1``, ``V = sentencepiece vocabulary + 2``.

>>> tok = Tokenizer.load("data/lang/tokens.model")     # doctest: +SKIP
>>> tok.decode(tok.encode("YES NO"))                    # doctest: +SKIP
'YES NO'
"""
from __future__ import annotations

import itertools
import os
import re
import stat
from pathlib import Path
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

import sentencepiece as spm

from asrkit.text.token_list import BLANK, SOS_EOS, UNK
from asrkit.utils.errors import AsrkitError
from asrkit.utils.fileio import PathLike, descriptor_of, named_pipe_reader, special_kind


# Sentencepiece's word-boundary mark. Inside a transcript sentencepiece takes it for a space, so
# "X\u2581Y" would silently come back "X Y". Training refuses it (bad_character); encoding stands a
# control character in for it, which training refuses too, so it becomes <unk> and is counted and
# named with the other characters the tokenizer does not know.
META = "\u2581"
_META_STANDIN = "\x01"
# The largest tokenizer model read (a sentencepiece model of a million pieces is ~20 MB).
MAX_MODEL_BYTES = 64 << 20


# Python's str.split() takes the control characters U+001C..U+001F (ASCII's file, group, record
# and unit separators) and U+0085 for white space; Kaldi's and sclite's fields (split_fields) and
# asrkit-score do not. Split there, "YES\x1fNO" was two words to the tokenizer (and so to every
# model made with it) and one to the scorer: never written back, an error on every such word with
# exit 0. They are control characters like any other: bad_character refuses them in training, and
# encoding leaves them in the text, so they become <unk>, counted and named.
_SPACE_CONTROL = "\x1c\x1d\x1e\x1f\x85"
_WORD_GAP = re.compile(f"[^\\S{_SPACE_CONTROL}]+")


def words(text: str) -> List[str]:
    """``text.split()`` but not at the control characters :data:`_SPACE_CONTROL` (see there)."""
    return [w for w in _WORD_GAP.split(text) if w]


def _spaced(text: str) -> str:
    """``text`` with every run of white space (tab, no-break space, U+3000...) one space, as the
    tokenizer was trained (train_sentencepiece): sentencepiece splits words at spaces only, so a
    tab between two words would otherwise be a character it never saw (<unk>)."""
    return " ".join(words(text)).replace(META, _META_STANDIN)


def _unspaced_piece(piece: str) -> str:
    """A piece of :func:`_spaced` text as the transcript had it (the stand-in back to U+2581)."""
    return piece.replace(_META_STANDIN, META)


def bad_character(text: str) -> Optional[str]:
    """Why ``text`` cannot be a tokenizer's training transcript, or None.

    U+2581 is sentencepiece's word-boundary mark (it would decode as a space), and a control
    character (an ANSI escape, a BEL, a NUL: category Cc other than white space, which separates
    words) is a transcript damaged by a terminal or an editor, not speech; a tokenizer trained on
    either would carry it as a token into every model made with it.
    """
    for c in text:
        if c == META:
            return "U+2581 '\u2581' (sentencepiece's word-boundary mark: it would come back as a space)"
        if c in _SPACE_CONTROL:
            return (f"the control character U+{ord(c):04X} {c!r} (Python's str.split() takes it for white space, "
                    f"asrkit-score, Kaldi and sclite do not: the tokenizer would split the word there and the "
                    f"model could never write it back)")
        if unicodedata.category(c) == "Cc" and not c.isspace():
            return f"the control character U+{ord(c):04X} {c!r} (a terminal escape or a damaged transcript)"
    return None


def _unloadable(e: Exception) -> str:
    """What is wrong with a model sentencepiece refused, in words: its own are a C++ source line and
    assertion ("INTERNAL: src/sentencepiece_processor.cc(109) [model_proto->ParseFromArray(...)]")."""
    message = str(e).strip()
    if "ParseFromArray" in message:
        return "not a sentencepiece model (it does not parse as one: damaged, or another kind of file)"
    # (a model that parses, refused by sentencepiece's own checks: "unk is not defined.")
    reason = re.sub(r"^[A-Z_]+: (\S+\.cc\(\d+\) )?(\[.*?\] )?", "", message).strip().rstrip(".")
    return f"damaged sentencepiece model ({reason or type(e).__name__})"


def _other_file_kind(data: bytes) -> Optional[str]:
    """What a file that is no sentencepiece model is, when it is one asrkit writes (None: unknown)."""
    if data.startswith(b"PK\x03\x04"):
        return "a torch file (an asrkit model.pt, checkpoint or lm.pt)"
    if re.match(rb"<blank> 0\r?\n", data):
        return "a token list ('<token> <id>' lines, as tokens.txt)"
    if data.startswith(b"model_type:"):
        return "asrkit-train-tokenizer's options (tokenizer.yaml)"
    return None


class Tokenizer:
    blank_id = 0
    unk_id = 1

    def __init__(self, model_proto: bytes, where: str = "<bytes>", remedy: str = "") -> None:
        """``remedy``: what to do about a model that does not load, appended to the error."""
        self._proto = bytes(model_proto)
        if not self._proto:
            # sentencepiece's word for it was "unk is not defined"
            raise AsrkitError(f"{where}: empty (0 bytes), not a sentencepiece model{remedy}")
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except (RuntimeError, OSError, TypeError) as e:
            raise AsrkitError(f"{where}: {_unloadable(e)}{remedy}") from None
        if self._sp.unk_id() != 0 or self._sp.bos_id() >= 0 or self._sp.eos_id() >= 0 or self._sp.pad_id() >= 0:
            raise AsrkitError(f"{where}: sentencepiece model has unk={self._sp.unk_id()} bos={self._sp.bos_id()} "
                              f"eos={self._sp.eos_id()} pad={self._sp.pad_id()}; asrkit needs unk=0 and no "
                              "bos/eos/pad (train it with asrkit-train-tokenizer)")
        self._num_pieces = self._sp.get_piece_size()
        self.vocab_size = self._num_pieces + 2
        self.sos_id = self.eos_id = self.vocab_size - 1
        self.tokens: List[str] = [BLANK, UNK] + [self._piece(i, where) for i in range(1, self._num_pieces)] + [SOS_EOS]
        # A model not made by asrkit-train-tokenizer (which refuses them as symbols) may hold asrkit's
        # own tokens as pieces: "<sos/eos>" in a transcript then encoded to a piece of that name, not
        # to the end of sentence, tokens.txt listed the name twice and decoding wrote "<blank>".
        reserved = [(i, t) for i, t in enumerate(self.tokens[2:-1], 2) if t in (BLANK, UNK, SOS_EOS)]
        if reserved:
            raise AsrkitError(f"{where}: sentencepiece model has the piece {reserved[0][1]!r} (id {reserved[0][0]}), "
                              f"a token asrkit reserves; train the model with asrkit-train-tokenizer")
        # A model trained by sentencepiece itself may hold a piece with white space in it (a user
        # symbol 'a b', or a tab kept by the identity normalization): it loaded, and tokens.txt
        # ('<token> <id>' lines), --pieces output and Kaldi's int2sym.pl then split it in two.
        spaced = next(((i, t) for i, t in enumerate(self.tokens[2:-1], 2) if any(c.isspace() for c in t)), None)
        if spaced is not None:
            raise AsrkitError(f"{where}: sentencepiece model has the piece {spaced[1]!r} (id {spaced[0]}), which holds "
                              f"white space: no token list can hold it; train the model with asrkit-train-tokenizer")
        self._token_to_id = {t: i for i, t in enumerate(self.tokens)}

    def _piece(self, sp_id: int, where: str) -> str:
        try:
            return self._sp.id_to_piece(sp_id)
        except UnicodeDecodeError:
            # protobuf does not check a string's bytes: a model damaged inside a piece still
            # loads, and the piece was a UnicodeDecodeError traceback
            raise AsrkitError(f"{where}: damaged sentencepiece model: piece {sp_id} (token id {sp_id + 1}) is not "
                              f"UTF-8") from None

    @classmethod
    def load(cls, path: PathLike) -> "Tokenizer":
        """From a ``tokens.model`` file, or a lang dir holding one."""
        path = Path(path)
        if path.is_dir():
            path = path / "tokens.model"
        try:
            # Opened without waiting: a named pipe's open() waited for a writer, for ever (asrkit-tokenize,
            # asrkit-train-lm --lang-dir with a tokens.model that was one).
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise AsrkitError(f"{path}: no such file (a tokenizer model, made by asrkit-train-tokenizer)") from None
        except OSError as e:
            try:  # (a socket cannot be opened at all: "No such device or address")
                kind = special_kind(os.stat(path).st_mode)
            except OSError:
                kind = None
            if kind is not None:
                raise AsrkitError(_not_a_model_file(path, kind)) from None
            raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
        mode = os.fstat(fd).st_mode
        # A pipe is read when the path names one of this process's descriptors (<(zcat m.gz),
        # /dev/stdin): the shell's, with its writer running; a named pipe once its writer comes. Anything
        # else that is not a regular file holds no model: a device (/dev/null was "empty, make it again"),
        # a socket, a directory.
        if stat.S_ISFIFO(mode) and not _names_descriptor(path):
            # A named pipe is waited on for its writer (cat tokens.model > fifo, started before or
            # after) as every named pipe asrkit reads, in fileio: a warning after 5 s, refused after
            # 60 s; a writer that wrote nothing is an empty model. (This had its own 5 s wait, which
            # took a writer that came and went before its first look for no writer.)
            try:
                f = named_pipe_reader(fd, path)
            except OSError as e:
                raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
        elif not stat.S_ISREG(mode) and not stat.S_ISFIFO(mode):
            os.close(fd)
            raise AsrkitError(_not_a_model_file(path, "a directory" if stat.S_ISDIR(mode) else special_kind(mode)))
        else:
            os.set_blocking(fd, True)
            f = os.fdopen(fd, "rb")
        with f:
            try:
                data = f.read(MAX_MODEL_BYTES + 1)  # not without end: /dev/zero was a MemoryError
            except OSError as e:
                raise AsrkitError(f"{path}: cannot read: {e.strerror}") from None
        if len(data) > MAX_MODEL_BYTES:
            raise AsrkitError(f"{path}: over {MAX_MODEL_BYTES >> 20} MiB, not a tokenizer model (a 1M-piece "
                              f"sentencepiece model is ~20 MB)")
        try:
            tok = cls(data, str(path), ": make it again with asrkit-train-tokenizer")
        except AsrkitError:
            other = _other_file_kind(data)
            if other is None:
                raise
            # a sibling in the lang dir or a model given for it: "make it again" sent the user the wrong way
            raise AsrkitError(f"{path}: {other}, not a sentencepiece model: give the tokens.model "
                              f"asrkit-train-tokenizer wrote beside tokens.txt (data/lang/tokens.model)") from None
        if path.name == "tokens.model":
            tok._check_token_list(path.with_name("tokens.txt"), path)
        return tok

    def _check_token_list(self, listed_path: Path, model_path: Path) -> None:
        """Refuse a lang dir whose ``tokens.txt`` is not this model's token list.

        asrkit-train-tokenizer writes the two together, and asrkit reads only the model; but
        tokens.txt is what people, Kaldi's int2sym.pl and asr.sh's up-to-date checks go by. One
        replaced without the other (a tokens.model copied in from another lang dir), or a model
        damaged in a way protobuf still loads (a flipped length byte gives another token list),
        trained with exit 0 while tokens.txt named other tokens.
        """
        if not listed_path.exists():
            return  # a model alone (copied without its list) is still a tokenizer
        if not listed_path.is_file():  # a FIFO would wait for a writer, for ever
            raise AsrkitError(f"{listed_path}: not a regular file (the token list of {model_path})")
        from asrkit.text.token_list import read_token_list

        listed = read_token_list(listed_path)
        at = next((i for i, (a, b) in enumerate(zip(listed, self.tokens)) if a != b), None)
        if at is None and len(listed) == len(self.tokens):
            return
        if at is not None:
            what = f"line {at + 1} has token {listed[at]!r} for id {at}, the model {self.tokens[at]!r}"
        else:
            what = f"it lists {len(listed)} tokens, the model has {len(self.tokens)}"
        raise AsrkitError(f"{listed_path} disagrees with {model_path}: {what}; asrkit-train-tokenizer writes the two "
                          f"together, so one was replaced or damaged: train the tokenizer again (or copy both)")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Tokenizer":
        return cls(data)

    def to_bytes(self) -> bytes:
        return self._proto

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size})"

    # DataLoader workers (spawn) and DDP pickle what they are given; the model bytes are enough.
    def __reduce__(self):
        return (Tokenizer, (self._proto,))

    # -- text <-> ids ------------------------------------------------------------------------
    def _canonical(self, text: str, sp_ids: List[int]) -> Tuple[str, List[int]]:
        """``text`` (spaced) and its sentencepiece ids ``sp_ids``, or, when they hold ``<unk>``, the
        canonically equivalent form of it (Unicode's NFC or NFD) with the fewest ``<unk>``s.

        The tokenizer is trained on the text as it is (``identity``), so on composed letters
        (U+00E9 'é', what nearly every text holds) it knew 'café' typed decomposed (e + U+0301:
        a macOS file name, a web page) as 'caf <unk>': training, the LM and asrkit-tokenize took
        it for an unknown character, named as 'é', which the tokenizer has. The two forms are
        the same text (Unicode's canonical equivalence), so they get the same tokens; a text
        the tokenizer knows as it is stays as it is.
        """
        if 0 not in sp_ids or text.isascii():
            return text, sp_ids
        unknown = sp_ids.count(0)
        for form in ("NFC", "NFD"):
            other = unicodedata.normalize(form, text)
            if other != text:
                other_ids = self._sp.encode(other, out_type=int)
                if other_ids.count(0) < unknown:
                    text, sp_ids, unknown = other, other_ids, other_ids.count(0)
        return text, sp_ids

    def encode(self, text: str) -> List[int]:
        text = _spaced(text)
        return [i + 1 for i in self._canonical(text, self._sp.encode(text, out_type=int))[1]]

    def encode_with_unknown(self, text: str) -> Tuple[List[int], List[str]]:
        """``(ids, unknown)``: the ids of :meth:`encode`, and the stretches of ``text`` that
        became ``<unk>`` (characters the tokenizer was not trained on)."""
        text = _spaced(text)
        text, sp_ids = self._canonical(text, self._sp.encode(text, out_type=int))
        unknown: List[str] = []
        if 0 in sp_ids:
            pieces = self._sp.encode(text, out_type=str)
            unknown = [_unspaced_piece(piece) for i, piece in zip(sp_ids, pieces) if i == 0]
        return [i + 1 for i in sp_ids], unknown

    def encode_flat(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray, Dict[int, List[str]]]:
        """The ids of many texts at once, flat: ``(ids int32, lengths int64, unknown)``.

        One sentencepiece call for all of them and no Python int per token, for a training set's
        transcripts; ``unknown`` maps the position of each text that had characters the
        tokenizer does not know to those stretches (as :meth:`encode_with_unknown`).
        """
        texts = [_spaced(t) for t in texts]
        sp = self._sp.encode(texts, out_type=int)
        lengths = np.fromiter(map(len, sp), dtype=np.int64, count=len(sp))
        flat = np.fromiter(itertools.chain.from_iterable(sp), dtype=np.int32, count=int(lengths.sum()))
        unknown: Dict[int, List[str]] = {}
        if (flat == 0).any():
            changed = False
            for j, ids in enumerate(sp):
                if 0 in ids:
                    text, ids = self._canonical(texts[j], ids)
                    changed |= ids is not sp[j]
                    sp[j] = ids
                    if 0 in ids:
                        pieces = self._sp.encode(text, out_type=str)
                        unknown[j] = [_unspaced_piece(piece) for i, piece in zip(ids, pieces) if i == 0]
            if changed:  # (another form's ids may be more or fewer)
                lengths = np.fromiter(map(len, sp), dtype=np.int64, count=len(sp))
                flat = np.fromiter(itertools.chain.from_iterable(sp), dtype=np.int32, count=int(lengths.sum()))
        return flat + 1, lengths, unknown

    def encode_as_pieces(self, text: str) -> List[str]:
        """The tokens (of tokens.txt) of :meth:`encode`: a character the tokenizer does not know is
        ``<unk>``, what it became. Sentencepiece's own pieces show it as itself ('です'), a token
        no list has: asrkit-tokenize --pieces wrote it, and --decode --pieces then refused its own
        output ('unknown token'); a U+2581 (its stand-in) read as the word-boundary piece."""
        return [self.tokens[i] for i in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``, words one space apart; blank and ``<sos/eos>`` are skipped, ``<unk>``
        decodes as the word '⁇' (sentencepiece's ' ⁇ ')."""
        sp_ids = []
        for i in ids:
            i = int(i)
            if i == self.blank_id or i == self.sos_id:
                continue
            if not 0 <= i < self.vocab_size:
                raise AsrkitError(f"token id {i} out of range (vocabulary has {self.vocab_size} ids: 0..{self.vocab_size - 1})")
            sp_ids.append(i - 1)
        # Sentencepiece's text has extra spaces: ' ⁇ ' for <unk> ("utt1  ⁇ OI" from asrkit-tokenize
        # --decode), and a lone '▁' piece (a word boundary a model emitted twice, or last) for one
        # more ("A R ", "R  TWENTY" in a decoding's Transcript and in the validation CER's text).
        return " ".join(w for w in self._sp.decode(sp_ids).split(" ") if w)

    def decode_pieces(self, pieces: Sequence[str]) -> str:
        return self.decode(self.token_to_id(p) for p in pieces)

    def token_to_id(self, token: str) -> int:
        try:
            return self._token_to_id[token]
        except KeyError:
            raise AsrkitError(f"unknown token {token!r} (not in the tokenizer's {self.vocab_size} tokens)") from None

    def id_to_token(self, i: int) -> str:
        if not 0 <= i < self.vocab_size:
            raise AsrkitError(f"token id {i} out of range (vocabulary has {self.vocab_size} ids: 0..{self.vocab_size - 1})")
        return self.tokens[i]


class UnknownTally:
    """Counts the utterances whose text had characters the tokenizer does not know.

    They become ``<unk>``, which trains the model to emit ``<unk>`` and scores as a wrong word:
    worth one warning per run that says how many, which characters and a few utterances.
    """

    def __init__(self, show: int = 5) -> None:
        self.show = show
        self.utts: List[str] = []
        self.chars: Dict[str, int] = {}
        # Of the texts :meth:`encode` was given with a word in them: how many, how many had a token
        # the tokenizer knows, and some that had none (for nothing_known_error's hint).
        self.texts = 0
        self.known = 0
        self.unknown_texts: List[str] = []

    def encode(self, tok: Tokenizer, utt: str, text: str) -> List[int]:
        ids, unknown = tok.encode_with_unknown(text)
        if unknown:
            self.utts.append(utt)
            for piece in unknown:
                self.chars[piece] = self.chars.get(piece, 0) + 1
        # (a text of nothing but the symbol <unk> itself, a noise-only utterance's transcript,
        # says nothing of the tokenizer: a file of them was refused as lower-case text)
        if any(w != UNK for w in words(text)):
            self.texts += 1
            if not unknown or knows_some_token(tok, tok.tokens, text, ids):
                self.known += 1
            elif len(self.unknown_texts) < 100:
                self.unknown_texts.append(text)
        return ids

    def nothing_known(self, tok: Tokenizer, where: str, tok_path: str, then: str) -> Optional[AsrkitError]:
        """The error for a run in which :meth:`encode` was given texts from ``where`` and the
        tokenizer (file ``tok_path``) knew no token of any (every word <unk>: lower-case text for
        an upper-case tokenizer), or None. ``then``: what to do once the text is fixed."""
        if not self.texts or self.known:
            return None
        return nothing_known_error(f"{where}: the tokenizer {tok_path} knows no token of any of the {self.texts} "
                                   f"texts (every word became <unk>)", tok, tok.tokens, self.unknown_texts, then=then)

    def encode_flat(self, tok: Tokenizer, utts: Sequence[str], texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`Tokenizer.encode_flat` of ``texts`` (of utterances ``utts``), tallied."""
        flat, lengths, unknown = tok.encode_flat(texts)
        for j, pieces in unknown.items():
            self.utts.append(utts[j])
            for piece in pieces:
                self.chars[piece] = self.chars.get(piece, 0) + 1
        return flat, lengths

    def warn(self, log, where: str) -> None:
        if not self.utts:
            return
        chars = sorted(self.chars.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{c!r} x{n}" for c, n in chars[:10]) + (" ..." if len(chars) > 10 else "")
        utts = " ".join(self.utts[:self.show]) + (" ..." if len(self.utts) > self.show else "")
        log.warning("%s: %d utterance(s) have characters the tokenizer does not know, mapped to <unk>: %s "
                    "(e.g. %s); clean the text or retrain the tokenizer on it", where, len(self.utts), shown, utts)


def knows_some_token(tokenizer: Optional[Tokenizer], tokens: Sequence[str], text: str,
                     ids: Optional[List[int]] = None) -> bool:
    """Whether ``text`` (tokenized as ``ids`` when given) has a token the model knows: one that
    spells something, not ``<unk>`` nor sentencepiece's bare word boundary (an unknown word comes
    as ``▁ <unk>``). ``tokenizer`` None: ``tokens`` are words (a model without a tokenizer)."""
    if tokenizer is None:
        index = set(tokens)
        return any(w in index for w in text.split())
    ids = tokenizer.encode(text) if ids is None else ids
    return any(tokens[i] != UNK and tokens[i].replace(META, "") for i in ids)


def case_that_knows(tokenizer: Optional[Tokenizer], tokens: Sequence[str], text: str) -> Optional[str]:
    """"upper" or "lower" when ``text`` in that case has tokens the model knows: the usual reason a
    whole text is unknown is lower-case transcripts for an upper-case model (Kaldi's AN4, WSJ)."""
    for case, changed in (("upper", text.upper()), ("lower", text.lower())):
        if changed != text and knows_some_token(tokenizer, tokens, changed):
            return case
    return None


def nothing_known_error(head: str, tokenizer: Optional[Tokenizer], tokens: Sequence[str], samples: Sequence[str],
                        what_to_case: str = "the text", then: str = "train again") -> AsrkitError:
    """The error for a text of which the tokenizer knows no token (every word <unk>): ``head``
    says what and where, and the rest why, from ``samples`` (some of its sentences): the other
    case (and which to change), or no shared characters at all (another language or corpus)."""
    cases = [case_that_knows(tokenizer, tokens, text) for text in samples]
    case = max(("upper", "lower"), key=cases.count) if any(cases) else None
    if case is None:
        return AsrkitError(head + ": the text and the tokenizer share no characters (a tokenizer of another "
                                  "language or corpus, or a text in another script or encoding?)")
    other = "lower" if case == "upper" else "upper"
    return AsrkitError(head + f": the text is {other} case and the tokens {case} case; {case}-case "
                              f"{what_to_case} and {then}")


def _not_a_model_file(path: PathLike, kind: Optional[str]) -> str:
    return (f"{path}: {kind or 'not a regular file'}, not a tokenizer model file (give the tokens.model "
            f"asrkit-train-tokenizer wrote, e.g. data/lang/tokens.model)")


def _names_descriptor(path: PathLike) -> bool:
    """Whether ``path`` names an open input descriptor (/dev/stdin, /dev/fd/N, /proc/self/fd/N): a
    pipe there is the shell's (``<(...)``, ``< file``), not a named pipe waiting for a writer. (Not
    stdout's or stderr's: reading a pipe this process writes would wait on itself.)"""
    return descriptor_of(os.path.abspath(os.fspath(path))) not in (None, 1, 2)
