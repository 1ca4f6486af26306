"""The synthetic aerial city: world layout, orthophoto painter, photo renderer, YOLO datasets."""

from detector.synth.paint import Look
from detector.synth.render import Visible, render_capture, render_photo, scaled_camera, visible_violations
from detector.synth.world import CLASSES, Planted, World

__all__ = ["CLASSES", "Look", "Planted", "Visible", "World", "render_capture", "render_photo", "scaled_camera", "visible_violations"]
