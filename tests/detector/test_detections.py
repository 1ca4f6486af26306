"""The Detections value: checked where it is made, and the pure steps keep its arrays in step."""

from __future__ import annotations

import numpy as np
import pytest

from detector.detections import Detections


def found(boxes, scores, classes) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), np.array(classes))


@pytest.mark.parametrize("boxes, scores, classes, field", [
    ([[10, 10, 5, 20]], [0.5], [0], "boxes: row 0"),           # x1 < x0
    ([[0, 0, 9, 9], [0, 30, 9, 20]], [0.5, 0.6], [0, 1], "boxes: row 1"),  # y1 < y0
    ([[0, 0, np.nan, 9]], [0.5], [0], "boxes: row 0"),
    ([[0, 0, 9, 9]], [1.5], [0], "scores: row 0"),
    ([[0, 0, 9, 9]], [0.5], [-1], "classes: row 0"),
])
def test_a_box_the_wrong_way_round_or_a_score_out_of_range_is_refused_naming_the_field(boxes, scores, classes, field):
    with pytest.raises(ValueError, match=field):
        found(boxes, scores, classes)


def test_arrays_out_of_step_are_refused():
    with pytest.raises(ValueError, match=r"scores: expected shape \(2,\)"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2, int))
    with pytest.raises(ValueError, match="boxes: expected shape"):
        Detections(np.zeros((2, 5)), np.zeros(2), np.zeros(2, int))
    with pytest.raises(ValueError, match="classes: expected integer"):
        Detections(np.zeros((1, 4)), np.zeros(1), np.zeros(1))


def test_tiles_merge_shift_threshold_and_unscale_as_one_value():
    tile_a = found([[0, 0, 10, 10], [5, 5, 20, 30]], [0.9, 0.2], [0, 1]).shifted(100, 50)
    tile_b = found([[1, 2, 3, 4]], [0.6], [1])
    both = Detections.merge([tile_a, Detections.empty(), tile_b])
    assert len(both) == 3 and both.boxes[0].tolist() == [100, 50, 110, 60]
    kept = both.above(np.array([0.5, 0.3], np.float32))  # class 1's 0.2 is under its floor
    assert kept.scores.tolist() == pytest.approx([0.9, 0.6]) and kept.classes.tolist() == [0, 1]
    full = kept.unscaled(0.5, width=210, height=100)
    assert full.boxes.tolist() == [[200, 99, 209, 99], [2, 4, 6, 8]]  # doubled, then kept inside the frame
    u, v = full.centres()
    assert u.tolist() == [204.5, 4] and v.tolist() == [99, 6]
    assert len(Detections.merge([])) == 0 and len(Detections.empty()[np.zeros(0, bool)]) == 0
