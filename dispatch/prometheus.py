"""Prometheus metrics of one dispatch app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600)


class DispatchMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.sightings = Counter("dispatch_sightings_total",
                                 "Sighting posts: sightings created or duplicate, requests rejected", ["result"], registry=r)
        self.incidents = Counter("dispatch_incidents_opened_total", "Incidents opened, by type", ["type"], registry=r)
        self.alerts = Counter("dispatch_alerts_total", "Alerts created, by type and department",
                              ["type", "department"], registry=r)
        self.attempts = Counter("dispatch_webhook_attempts_total", "Webhook attempts, by department and outcome",
                                ["department", "outcome"], registry=r)
        self.latency = Histogram("dispatch_alert_delivery_seconds", "Alert created → webhook answered 2xx",
                                 buckets=DELIVERY_BUCKETS, registry=r)
        self.transitions = Counter("dispatch_alert_transitions_total", "Alert status changes, by new status",
                                   ["to"], registry=r)
        self.outbox_lag = Gauge("dispatch_outbox_lag_seconds", "Age of the oldest undelivered webhook message", registry=r)
        self.ingest_queue = Gauge("dispatch_ingest_queue_depth",
                                  "Sighting requests in this replica waiting for the next group commit", registry=r)
        self.outbox = Gauge("dispatch_outbox_messages", "Webhook messages in the outbox, by state", ["state"], registry=r)
