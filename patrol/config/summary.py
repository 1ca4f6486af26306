"""What `patrol config check` prints: areas in km² (metric CRS), counts, and coverage gaps."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from shapely.geometry import Point

from patrol.config.city import City


@dataclass(frozen=True)
class DistrictRow:
    name: str
    area_km2: float
    docks_in_range: int
    zone_km2: float


@dataclass(frozen=True)
class CitySummary:
    city: str
    districts: tuple[DistrictRow, ...]
    zones: tuple[tuple[str, str, float, float, int], ...]  # id, name, km², altitude, priority
    departments_by_kind: dict[str, int]
    docks: int
    drones: int
    zone_km2: float
    no_fly_km2: float
    dock_range_km: float

    @property
    def districts_without_dock(self) -> list[str]:
        return [d.name for d in self.districts if d.docks_in_range == 0]


def dock_range_m(city: City) -> float:
    """How far from its dock a drone can work: half the distance its flight budget covers at
    transit speed (climb and descent aside)."""
    return max(d.spec.transit_speed_m_s * d.spec.flight_budget_s / 2 for d in city.drones)


def summarize(city: City) -> CitySummary:
    frame = city.frame
    reach = dock_range_m(city)
    docks_m = [Point(frame.forward(k.lon, k.lat)) for k in city.docks]
    zone_union = [frame.to_metric(z.area) for z in city.zones]
    rows = []
    for district in city.districts:
        area = frame.to_metric(district.area)
        rows.append(DistrictRow(
            district.name, area.area / 1e6,
            sum(1 for p in docks_m if p.distance(area) <= reach),
            sum(area.intersection(z).area for z in zone_union) / 1e6,
        ))
    kinds: dict[str, int] = {}
    for dep in city.departments:
        kinds[dep.kind] = kinds.get(dep.kind, 0) + 1
    return CitySummary(
        city=f"{city.info.name} {city.info.name_en}",
        districts=tuple(rows),
        zones=tuple((z.id, z.name, frame.area_km2(z.area), z.altitude_agl_m, z.priority) for z in city.zones),
        departments_by_kind=kinds,
        docks=len(city.docks),
        drones=len(city.drones),
        zone_km2=sum(frame.area_km2(z.area) for z in city.zones),
        no_fly_km2=sum(frame.area_km2(n.area) for n in city.no_fly),
        dock_range_km=reach / 1000,
    )


def render_summary(s: CitySummary, console: Console) -> None:
    console.print(f"[bold green]✓ config OK[/] — {s.city}")
    t = Table(title="行政区 Districts (areas in UTM, km²)")
    for col in ("district", "area km²", "patrol zones km²", f"docks within {s.dock_range_km:.1f} km"):
        t.add_column(col, justify="left" if col == "district" else "right")
    for d in s.districts:
        t.add_row(d.name, f"{d.area_km2:,.1f}", f"{d.zone_km2:,.1f}", str(d.docks_in_range) if d.docks_in_range else "[red]0[/]")
    console.print(t)
    z = Table(title="巡查区 Patrol zones")
    for col in ("id", "name", "area km²", "altitude m", "priority"):
        z.add_column(col, justify="right" if col in ("area km²", "altitude m", "priority") else "left")
    for zid, name, km2, alt, prio in s.zones:
        z.add_row(zid, name, f"{km2:,.1f}", f"{alt:g}", str(prio))
    console.print(z)
    console.print(
        f"zones {s.zone_km2:,.1f} km² · no-fly {s.no_fly_km2:,.1f} km² · docks {s.docks} · drones {s.drones} · "
        f"departments {sum(s.departments_by_kind.values())} ("
        + ", ".join(f"{k} {n}" for k, n in s.departments_by_kind.items()) + ")"
    )
    if s.districts_without_dock:
        console.print(f"[yellow]districts with no dock within range:[/] {', '.join(s.districts_without_dock)}")
