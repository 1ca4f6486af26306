"""patrol: the app — config loading, the end-to-end pipeline, the `patrol` CLI."""
