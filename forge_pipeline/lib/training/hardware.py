"""Detect the GPU through NVML and choose training precision from it."""

import os
from dataclasses import asdict, dataclass

ARCHITECTURES = [(10, "blackwell"), (9, "hopper"), (8.9, "ada"), (8, "ampere"), (7.5, "turing")]


@dataclass(frozen=True)
class Hardware:
    """What training can run on: a GPU (first device) or the CPU."""

    gpu_count: int
    gpu_name: str | None
    vram_total_gb: float
    vram_free_gb: float
    compute_capability: float | None
    driver: str | None
    cpu_count: int

    @property
    def architecture(self) -> str:
        """turing, ampere, ada, hopper, blackwell, or cpu."""
        if self.compute_capability is None:
            return "cpu"
        return next((name for cc, name in ARCHITECTURES if self.compute_capability >= cc), "cpu")

    @property
    def supports_bf16(self) -> bool:
        """bf16 is fast only on GPUs with compute capability 8.0 or more; never on this CPU."""
        return self.compute_capability is not None and self.compute_capability >= 8.0

    @property
    def precision(self) -> str:
        """bf16, fp16 or fp32: chosen from the hardware, never from library defaults."""
        if self.gpu_count == 0:
            return "fp32"
        return "bf16" if self.supports_bf16 else "fp16"

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {**asdict(self), "architecture": self.architecture, "precision": self.precision}


def cpu_only() -> Hardware:
    """The answer when no GPU is present."""
    return Hardware(0, None, 0.0, 0.0, None, None, os.cpu_count() or 1)


def detect_hardware() -> Hardware:
    """Read the first GPU through NVML; no GPU (or no driver) is a normal CPU answer."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound and friends: no usable GPU here
        return cpu_only()
    try:
        count = pynvml.nvmlDeviceGetCount()
        if count == 0:
            return cpu_only()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        name = pynvml.nvmlDeviceGetName(handle)
        return Hardware(
            gpu_count=count,
            gpu_name=name.decode() if isinstance(name, bytes) else name,
            vram_total_gb=round(int(memory.total) / 2**30, 1),
            vram_free_gb=round(int(memory.free) / 2**30, 1),
            compute_capability=float(f"{major}.{minor}"),
            driver=str(pynvml.nvmlSystemGetDriverVersion()),
            cpu_count=os.cpu_count() or 1,
        )
    finally:
        pynvml.nvmlShutdown()
