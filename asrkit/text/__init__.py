"""Text to token ids and back: sentencepiece tokenizers and the tokens.txt list (see docs/contracts.md)."""
