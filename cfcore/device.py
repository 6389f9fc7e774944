"""Which device trains and how to name it: CUDA, then Apple MPS, then the CPU (and its thread count)."""

from __future__ import annotations

import torch

from cfcore import kernels
from cfcore.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA, then Apple MPS, then CPU; an unavailable device is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but Apple MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def uses_compiled_step(device: torch.device, optimizer: str) -> bool:
    """Whether training runs the compiled CPU step (its own thread count) rather than torch ops."""
    return device.type == "cpu" and optimizer != "adam" and kernels.AVAILABLE


def describe_device(device: torch.device, optimizer: str = "sparse_adam") -> str:
    """A person-readable device name: "CPU (2 threads)" or the GPU's name and memory. On the CPU the
    count is the threads that run the training step: the compiled step's own, or torch's."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = kernels.threads() if uses_compiled_step(device, optimizer) else torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"
