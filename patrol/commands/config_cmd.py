"""`patrol config check|map`: read a city config, show what it says, and draw it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from patrol.config import ConfigError, load_city
from patrol.config.summary import render_summary, summarize

app = typer.Typer(help="Check and draw a city config (zones, jurisdictions, docks, no-fly zones).", no_args_is_help=True)
console = Console()


def load_or_exit(file: Path):
    """Load a city config, or print every problem with its field path and exit 2."""
    try:
        return load_city(file)
    except ConfigError as err:
        console.print(f"[bold red]{len(err.issues)} problem(s) in {file}:[/]")
        for issue in err.issues:
            console.print(f"  • {issue}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.command("check")
def check(file: Path = typer.Argument(..., help="city config YAML, e.g. configs/quzhou.yaml")) -> None:
    """Validate a city config and print a summary: districts and areas (km², metric CRS), fleet, zones, gaps."""
    city = load_or_exit(file)
    render_summary(summarize(city), console)


@app.command("map")
def draw(
    file: Path = typer.Argument(..., help="city config YAML"),
    output: Path = typer.Option(..., "-o", "--output", help="map.html or map.png"),
) -> None:
    """Draw zones, jurisdictions, docks and no-fly zones on one map (HTML opens offline; PNG for reports)."""
    from patrol.maps import city_layers, write_map

    city = load_or_exit(file)
    write_map(city_layers(city), output, title=f"{city.info.name} {city.info.name_en}", tiles=city.info.base_map_tiles)
    console.print(f"map written: {output}")
