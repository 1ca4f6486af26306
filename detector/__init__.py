"""detector: sees — camera model, georeferencing, tiled inference, synthetic world, training."""

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.geo import MetricFrame

__all__ = ["CameraModel", "CameraPose", "Capture", "MetricFrame"]
