"""Crash safety, through the real `patrol serve` (scripts/reliability_report.py's scenarios at a
small size): sightings stream in while dispatch is killed with SIGKILL and started again, or
while the departments' endpoint fails 30 % of deliveries. Every sighting that got a 2xx is in
the store, every alert's webhook arrives (signature checked), no sighting is given up on."""

from __future__ import annotations

import pytest

from scripts.reliability_report import scenario

pytestmark = pytest.mark.slow


def test_kill_9_while_sightings_stream_in_loses_nothing():
    out = scenario("kill -9", rate=30, seconds=8, kill_at=0.5, fail_share=0.0, seed=3)
    assert out.faults.startswith("SIGKILL of dispatch")
    assert out.accepted == out.sightings == 240
    assert out.lost == 0, out.lost_detail


def test_a_receiver_failing_30_percent_loses_nothing():
    out = scenario("receiver failing", rate=20, seconds=6, kill_at=None, fail_share=0.3, seed=4)
    assert "webhook 503s (30%)" in out.faults and not out.faults.startswith("0 ")
    assert out.accepted == out.sightings == 120
    assert out.lost == 0, out.lost_detail
