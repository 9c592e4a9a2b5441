"""Models: the LAS acoustic model (listener, attention, speller, CTC) and its packed form."""
from asrkit.models.las import LAS, LASConfig, LASOutput, select_batch

__all__ = ["LAS", "LASConfig", "LASOutput", "select_batch"]
