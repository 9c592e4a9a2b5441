"""Kaldi data directories, table files, and rspecifier/wspecifier I/O through kaldiio."""
