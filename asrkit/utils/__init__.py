"""Small helpers shared by every package: errors, logging, progress, atomic file output."""
