"""Subcommands of the `patrol` CLI, one module each."""
