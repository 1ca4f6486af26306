"""Scoring a patrol against planted truth: one-to-one matching, by type, in metres."""

from __future__ import annotations

from detector.geo import MetricFrame
from patrol.evaluation import Planted, Reported, score

FRAME = MetricFrame.around(118.87, 28.95)
M_PER_DEG_LAT = 110_860.0  # near 29° N


def test_matches_by_type_and_distance():
    planted = [Planted("p1", "exposed_garbage", 118.87, 28.95), Planted("p2", "road_waterlogging", 118.871, 28.95)]
    reported = [
        Reported("a", "exposed_garbage", 118.87, 28.95 + 2 / M_PER_DEG_LAT),     # 2 m off: true
        Reported("b", "exposed_garbage", 118.871, 28.95),                        # right place, wrong type: false
        Reported("c", "exposed_garbage", 118.87, 28.95 + 5 / M_PER_DEG_LAT),     # second alert for p1: false
    ]
    s = score(planted, reported, FRAME)
    assert (s.true_positive, s.recall, round(s.precision, 3)) == (1, 0.5, 0.333)
    assert [m.planted.id if m.planted else None for m in s.matches] == ["p1", None, None]
    assert abs(s.geo_error_median_m - 2.0) < 0.05
    assert [p.id for p in s.missed] == ["p2"]
    assert s.per_type()["road_waterlogging"] == {"planted": 1, "found": 0, "alerts": 0, "false": 0}


def test_far_report_is_false():
    s = score([Planted("p", "illegal_parking", 118.87, 28.95)], [Reported("r", "illegal_parking", 118.8702, 28.95)], FRAME)
    assert s.true_positive == 0 and s.precision == 0.0 and s.geo_error_median_m is None


def test_empty_inputs():
    s = score([], [], FRAME)
    assert (s.recall, s.precision) == (1.0, 1.0)


def test_duplicate_alerts_counts_a_second_report_of_a_found_violation():
    from patrol.evaluation import duplicate_alerts

    planted = [Planted("p1", "exposed_garbage", 118.87, 28.95)]
    reported = [
        Reported("a", "exposed_garbage", 118.87, 28.95 + 2 / M_PER_DEG_LAT),     # found p1
        Reported("b", "exposed_garbage", 118.87, 28.95 + 20 / M_PER_DEG_LAT),    # p1 again, 20 m off: duplicate
        Reported("c", "exposed_garbage", 118.87, 28.95 + 80 / M_PER_DEG_LAT),    # nothing near: plain false alarm
        Reported("d", "illegal_parking", 118.87, 28.95 + 3 / M_PER_DEG_LAT),     # other type: not a duplicate
    ]
    s = score(planted, reported, FRAME)
    assert s.true_positive == 1
    assert duplicate_alerts(s, FRAME) == 1
    assert duplicate_alerts(s, FRAME, radius_m=100.0) == 2
