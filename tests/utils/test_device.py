"""One device resolver for training, LM training and decoding: names, and a GPU asked for without one."""
import pytest
import torch

from asrkit.utils.device import resolve_device
from asrkit.utils.errors import AsrkitError


def test_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # "cuda:٣" (an Arabic-Indic 3): str.isdigit() and int() took it for GPU 3
    for bad in ("gpu", "cuda:x", "cpu:1", "", "cuda:\u0663", "cuda:\uff11"):
        with pytest.raises(AsrkitError, match="expected auto, cpu, cuda or cuda:N"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_without_cuda_names_the_option():
    with pytest.raises(AsrkitError, match=r"^--ngpu 2: a GPU is asked for, but CUDA is not available"):
        resolve_device("cuda", "--ngpu 2")
    with pytest.raises(AsrkitError, match=r"^device 'cuda:1': .*torch sees no CUDA device"):
        resolve_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_index():
    assert resolve_device("cuda", index=0) == torch.device("cuda", 0)
    with pytest.raises(AsrkitError, match="this machine has"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
