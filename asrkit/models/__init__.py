"""Models: the LAS acoustic model (listener, attention, speller, CTC), the LM, their configs and packed files.

Submodules are imported on demand (``asrkit.models.config`` needs no torch, so a config loads
without it); ``asrkit.models.LAS`` and friends still work, through ``__getattr__``.
"""
__all__ = ["LAS", "LASConfig", "LASOutput", "select_batch"]


def __getattr__(name: str):
    if name in __all__:
        from asrkit.models import las

        return getattr(las, name)
    raise AttributeError(f"module 'asrkit.models' has no attribute {name!r}")
