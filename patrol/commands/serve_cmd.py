"""`patrol serve`: run the dispatch alert service (API, department inboxes, dashboard, /metrics)."""

from __future__ import annotations

import gc
from pathlib import Path

import typer
from rich.console import Console

from patrol.commands.config_cmd import load_or_exit

console = Console()


def serve(
    config: Path = typer.Option(..., "--config", "-c", help="city config YAML, e.g. configs/quzhou.yaml"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8600, help="TCP port"),
    db: str = typer.Option("sqlite:///out/dispatch/dispatch.db",
                           help="SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://user:pw@host/db"),
    credentials: Path = typer.Option(Path("out/dispatch/credentials.json"),
                                     help="department tokens + webhook secrets (JSON, created on first start, mode 600)"),
    public_url: str | None = typer.Option(None, help="base URL departments use to reach this server (links in alerts)"),
    webhook_base: str | None = typer.Option(None, help="send every department's webhooks to {BASE}/hooks/{dept_id} "
                                                       "instead of the config's URLs (staging, a test receiver)"),
    webhook_timeout: float = typer.Option(10.0, min=0.5, help="seconds one webhook attempt may take; a replica that "
                                                              "dies mid-delivery frees its messages after this + 30 s"),
    webhook_retry_cap: float = typer.Option(600.0, min=1.0, help="longest wait between two tries of one webhook (s); "
                                                                  "backoff doubles from 2 s up to this"),
) -> None:
    """Receive sightings, de-duplicate into incidents, route to departments, deliver signed webhooks."""
    import uvicorn  # the web stack loads only for this command, so the rest of the CLI starts fast

    from dispatch.app import create_app
    from dispatch.credentials import Credentials, CredentialsError
    from dispatch.departments import with_webhook_base
    from dispatch.settings import RetryPolicy, Settings

    city = load_or_exit(config)
    try:
        creds, made = Credentials.load_or_create(credentials, [d.id for d in city.departments])
    except CredentialsError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    base = public_url or f"http://{host}:{port}"
    departments = with_webhook_base(city.departments, webhook_base) if webhook_base else city.departments
    settings = Settings(departments=departments, taxonomy=city.taxonomy, credentials=creds, database_url=db,
                        city_name=f"{city.info.name} {city.info.name_en}", public_url=base,
                        retry=RetryPolicy(timeout_s=webhook_timeout, cap_s=webhook_retry_cap))
    app = create_app(settings)
    # Everything loaded so far (config, geometry, SQLAlchemy metadata) lives as long as the server:
    # keep it out of the cyclic GC, whose full passes over it cost milliseconds per request.
    gc.freeze()
    console.print(f"[bold]dispatch[/] for {city.info.name} on {base}  store: {db}")
    console.print(f"webhook secrets and token digests: {credentials} (keep private)")
    if made:
        show_once(made)
    console.print(f"dashboard 驾驶舱: {base}/dashboard#token=<admin_token>")
    for d in city.departments:
        console.print(f"  inbox {d.name} ({d.id}): {base}/inbox/{d.id}#token=<token>", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="info")


def show_once(made) -> None:
    """Tokens are kept only as digests: this is the one time they can be read. `patrol run` posts with
    the ingest token; more department tokens: POST /v1/admin/departments/{id}/accounts."""
    console.print("[bold yellow]new tokens, shown once only (新令牌，仅显示一次): hand them out now[/]")
    for what, token in (("admin 管理员", made.admin), ("ingest 上报 (patrol run)", made.ingest)):
        if token:
            console.print(f"  {what}: {token}", highlight=False, soft_wrap=True)
    for dept, token in made.departments.items():
        console.print(f"  department {dept} (shared login): {token}", highlight=False, soft_wrap=True)
