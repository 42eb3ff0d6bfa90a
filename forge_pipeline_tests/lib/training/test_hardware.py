"""Hardware detection and the precision it implies.

Does not touch: a real GPU (tests marked gpu do).
"""

import pytest

from forge_pipeline.lib.training.hardware import Hardware, detect_hardware


def gpu(cc: float | None) -> Hardware:
    return Hardware(1 if cc else 0, "X" if cc else None, 24.0, 20.0, cc, "560", 16)


@pytest.mark.parametrize(
    ("cc", "arch", "precision"),
    [
        (None, "cpu", "fp32"),
        (7.5, "turing", "fp16"),
        (8.0, "ampere", "bf16"),
        (8.6, "ampere", "bf16"),
        (8.9, "ada", "bf16"),
        (9.0, "hopper", "bf16"),
        (12.0, "blackwell", "bf16"),
    ],
)
def test_architecture_and_precision(cc, arch, precision):
    assert (gpu(cc).architecture, gpu(cc).precision) == (arch, precision)


def test_no_gpu_is_a_normal_answer():
    hardware = detect_hardware()
    if hardware.gpu_count == 0:
        assert hardware.architecture == "cpu" and hardware.precision == "fp32"
    assert hardware.cpu_count >= 1
