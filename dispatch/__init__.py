"""dispatch: tells — the alert service (HTTP API, store, geo-router, incidents, delivery, web)."""
