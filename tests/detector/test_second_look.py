"""The second look: a detection becomes an alert when another photo of its spot agrees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.geo import MetricFrame
from detector.second_look import SecondLook
from detector.sighting import Sighting

CAM = CameraModel(17.3, 13.0, 12.29, 5280, 3956)  # ~140 × 106 m on the ground from 100 m
FRAME = MetricFrame.around(118.87, 28.95)
E0, N0 = (float(c) for c in FRAME.forward(118.87, 28.95))
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)


def photo(seq: int, east_m: float, after_s: float = 0.0) -> Capture:
    lon, lat = FRAME.inverse(E0 + east_m, N0)
    return Capture(None, T0 + timedelta(seconds=after_s), CameraPose(float(lat), float(lon), 100.0, 170.0),
                   CAM, "uav-01", "s-1", seq)


def seen(cap: Capture, east_m: float, code: str = "exposed_garbage", conf: float = 0.8) -> Sighting:
    lon, lat = FRAME.inverse(E0 + east_m, N0)
    return Sighting(f"{cap.seq}-{code}-{east_m}", code, conf, float(lat), float(lon), 1.0, cap.time, None,
                    f"{cap.seq}.jpg", (0, 0, 10, 10), None, "test", cap.drone_id, cap.sortie_id)


def look() -> SecondLook:
    return SecondLook({"exposed_garbage": 0.6, "illegal_structure": 0.6}, support=0.5)


def test_a_second_photo_that_agrees_confirms_even_weakly():
    lk = look()
    a, b = photo(1, 0.0), photo(2, 50.0, after_s=4)  # both show the spot at east 30 m
    first = seen(a, 30.0)
    assert lk.review(a, [first]) == []  # held: no other photo has shown the spot yet
    second = seen(b, 30.5, conf=0.35)  # support only: below the threshold, above half of it
    assert lk.review(b, [second]) == [first]
    assert lk.stats.confirmed == 1 and lk.flush() == []
    again = seen(photo(3, 40.0, after_s=8), 30.2, conf=0.9)  # a known spot: posted at once
    assert lk.review(photo(3, 40.0, after_s=8), [again]) == [again]


def test_a_second_photo_that_sees_nothing_there_drops_it():
    lk = look()
    a, b = photo(1, 0.0), photo(2, 50.0, after_s=4)
    assert lk.review(a, [seen(a, 30.0)]) == []
    # another type is no support, and photo a showed no structure there either: both go
    assert lk.review(b, [seen(b, 30.0, code="illegal_structure")]) == []
    assert lk.stats.dropped == 2 and lk.flush() == []
    # and the other way round: a candidate whose spot an earlier photo showed empty
    c = photo(3, 0.0, after_s=8)
    assert lk.review(c, [seen(c, -30.0)]) == []
    assert lk.stats.dropped == 3


def test_a_spot_no_other_photo_shows_goes_out_unconfirmed():
    lk = look()
    a = photo(1, 0.0)
    lone = seen(a, 30.0)
    assert lk.review(a, [lone, seen(a, -30.0, conf=0.4)]) == []  # the weak one is never an alert alone
    far = photo(2, 5000.0, after_s=lk.max_wait_s + 1)  # much later, elsewhere: waited long enough
    assert lk.review(far, []) == [lone]
    b = photo(3, 2000.0, after_s=2000)
    held = seen(b, 1960.0)
    lk.review(b, [held])
    assert lk.flush() == [held] and lk.stats.unconfirmed == 2


def test_held_detections_go_out_when_their_wait_is_over_even_with_no_more_photos():
    lk = look()
    a = photo(1, 0.0)
    lone = seen(a, 30.0)
    assert lk.review(a, [lone]) == []
    assert lk.expire(a.time + timedelta(seconds=lk.max_wait_s - 1)) == []
    assert lk.expire(a.time + timedelta(seconds=lk.max_wait_s + 1)) == [lone]
    assert lk.flush() == [] and lk.stats.unconfirmed == 1


def test_photos_older_than_the_memory_no_longer_judge():
    lk = SecondLook({"exposed_garbage": 0.6}, memory_s=3600.0)
    a = photo(1, 0.0)
    assert lk.review(a, []) == []  # showed the spot empty
    later = photo(2, 0.0, after_s=3601)
    spotted = seen(later, 30.0)
    assert lk.review(later, [spotted]) == []  # held, not dropped: the empty view is forgotten
    assert lk.stats.dropped == 0 and lk.flush() == [spotted]
