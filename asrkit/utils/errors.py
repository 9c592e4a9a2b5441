"""The one exception type commands turn into a clear one-line message and a non-zero exit."""


class AsrkitError(Exception):
    """An error in the user's input or environment, reported without a traceback.

    The message should name the file, line or utterance at fault, e.g.
    ``data/train/wav.scp:12: malformed line (expected '<utt-id> <wav>')``.
    """
