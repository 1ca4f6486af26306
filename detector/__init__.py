"""detector: sees — camera model, georeferencing, tiled inference, synthetic world, training."""

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.detect import Detector, DetectorSettings, PhotoResult
from detector.detections import Detections
from detector.geo import MetricFrame
from detector.georef import Georeferencer, GeorefError, PoseErrors
from detector.photo import PhotoError
from detector.sighting import Sighting

__all__ = [
    "CameraModel",
    "CameraPose",
    "Capture",
    "Detections",
    "Detector",
    "DetectorSettings",
    "GeorefError",
    "Georeferencer",
    "MetricFrame",
    "PhotoError",
    "PhotoResult",
    "PoseErrors",
    "Sighting",
]
