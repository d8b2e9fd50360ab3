"""Where training runs: the device, mixed precision, and DistributedDataParallel.

One :class:`Context` hides the differences: on CUDA it adds mixed precision,
channels-last and pinned memory; under ``torchrun`` it wraps the model in DDP
(NCCL on GPUs, gloo on CPU) and only rank 0 writes. Alone on a CPU it is a
thin shell around ``torch.device("cpu")``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Context:
    device: torch.device
    rank: int = 0
    world: int = 1
    generator: torch.Generator = field(default_factory=torch.Generator)
    scaler: torch.amp.GradScaler | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def place(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        # cuDNN and oneDNN (CPU) both run convolutions faster on NHWC: 27% per CNN step at
        # batch 128 on CPU here (bench/bench_training.py).
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    @property
    def channels_last(self) -> bool:
        return self.device.type in ("cuda", "cpu")

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP around ``model`` when distributed; the model itself otherwise."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.cuda else None)

    def to_device(self, x: torch.Tensor, y: torch.Tensor):
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:        # matches the channels-last model
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def autocast(self):
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def step(self, loss: torch.Tensor, optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        if self.scaler:                       # fp16 gradients need loss scaling
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def join(self, model: nn.Module):
        """Lets ranks with fewer batches finish an epoch without a hang (uneven shards)."""
        return model.join() if self.world > 1 else contextlib.nullcontext()

    def all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            tensor = tensor.to(self.device)
            dist.all_reduce(tensor)
        return tensor.cpu()

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def broadcast_path(self, make):
        """Rank 0 calls ``make()``; every rank gets its result."""
        if self.world == 1:
            return make()
        box = [make() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but Apple MPS is not available")
    return torch.device(name)


def setup_context(device: str = "auto", *, seed: int = 0) -> Context:
    """Read torchrun's RANK/WORLD_SIZE/LOCAL_RANK, or run as a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    chosen = pick_device(device)
    if world > 1:
        if chosen.type == "cuda":
            chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(chosen)
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    torch.manual_seed(seed)                   # the same initial weights on every rank
    generator = torch.Generator().manual_seed(seed * 1000 + rank)   # per-rank augmentation
    scaler = torch.amp.GradScaler("cuda") if chosen.type == "cuda" else None
    return Context(chosen, rank, world, generator, scaler)
