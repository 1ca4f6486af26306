"""Inference engines for the ONNX model: ONNX Runtime (default), OpenVINO, CUDA through ORT.

`open_backend("auto")` picks CUDA when ONNX Runtime has its CUDA provider and a GPU, else
OpenVINO when it is installed, else ONNX Runtime on the CPU. Every backend takes a float32
NCHW batch and returns the raw YOLO head output (N, 4 + classes, anchors).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

BACKENDS = ("auto", "onnxruntime", "openvino", "cuda")


class Backend(Protocol):
    name: str

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class OnnxRuntimeBackend:
    def __init__(self, model: Path, threads: int, cuda: bool = False) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not spin against OpenCV
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(model), sess_options=opts, providers=providers)
        self.input = self.session.get_inputs()[0].name
        self.name = "cuda" if cuda else "onnxruntime"

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: batch})[0]


class OpenVinoBackend:
    """OpenVINO runtime on the CPU, one compiled model per batch shape (static shapes run faster).

    Only the runtime is used (no converter), and that never loads openvino-telemetry.
    """

    def __init__(self, model: Path, threads: int) -> None:
        import openvino as ov

        self.core = ov.Core()
        self.model_path = model
        self.config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self.compiled: dict[tuple[int, ...], object] = {}
        self.name = "openvino"

    def run(self, batch: np.ndarray) -> np.ndarray:
        shape = tuple(batch.shape)
        compiled = self.compiled.get(shape)
        if compiled is None:
            model = self.core.read_model(str(self.model_path))
            model.reshape({model.inputs[0].get_any_name(): list(shape)})
            compiled = self.core.compile_model(model, "CPU", self.config)
            self.compiled[shape] = compiled
        return compiled(batch)[0]  # type: ignore[operator]


def available_backends() -> list[str]:
    """Concrete backends that can run here, best first."""
    import onnxruntime as ort

    out = []
    if "CUDAExecutionProvider" in ort.get_available_providers():
        out.append("cuda")
    try:
        import openvino  # noqa: F401

        out.append("openvino")
    except ImportError:
        pass
    out.append("onnxruntime")
    return out


def open_backend(model: Path, name: str = "auto", threads: int | None = None) -> Backend:
    """Open `model` on backend `name` (one of BACKENDS); `auto` takes the best available."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    threads = threads or min(4, os.cpu_count() or 1)
    if name == "auto":
        name = available_backends()[0]
    if name == "openvino":
        return OpenVinoBackend(model, threads)
    if name == "cuda":
        if "cuda" not in available_backends():
            raise ValueError("backend 'cuda' needs onnxruntime-gpu with a CUDA device; none found here")
        return OnnxRuntimeBackend(model, threads, cuda=True)
    return OnnxRuntimeBackend(model, threads)
