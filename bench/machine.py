"""This machine's raw fp32 matmul rate, the yardstick every other figure is read against."""

import time


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """fp32 matmul throughput of this machine right now (torch's current thread count)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return round(2 * size**3 * repeats / (time.perf_counter() - started) / 1e9, 1)
