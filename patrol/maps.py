"""Maps people look at: self-contained HTML (inline SVG, pans and zooms offline) and PNG.

Geometry is drawn in Web Mercator pixel space at a fixed zoom, so that when a city configures
an XYZ tile server (`city.base_map_tiles`) its tiles line up under the vector layers.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
import shapely

TILE_PX = 256
MAP_WIDTH_PX = 1100


@dataclass(frozen=True)
class Style:
    stroke: str = "#1f4e79"
    fill: str = "none"
    fill_opacity: float = 0.25
    width: float = 1.5
    radius: float = 4.0
    dash: str | None = None


@dataclass(frozen=True)
class Feature:
    geometry: BaseGeometry
    label: str = ""


@dataclass(frozen=True)
class Layer:
    name: str
    features: tuple[Feature, ...]
    style: Style = field(default_factory=Style)
    visible: bool = True
    show_labels: bool = False


def _world_px(zoom: int):
    size = TILE_PX * 2**zoom

    def fwd(lon, lat):
        lon, lat = np.asarray(lon, float), np.clip(np.asarray(lat, float), -85.05, 85.05)
        x = (lon + 180.0) / 360.0 * size
        y = (1.0 - np.log(np.tan(np.radians(lat)) + 1.0 / np.cos(np.radians(lat))) / math.pi) / 2.0 * size
        return x, y

    return fwd


def _bounds(layers: Iterable[Layer]) -> tuple[float, float, float, float]:
    b = np.array([f.geometry.bounds for layer in layers for f in layer.features if not f.geometry.is_empty])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _zoom_for(bounds: tuple[float, float, float, float]) -> int:
    span = max(bounds[2] - bounds[0], 1e-6)
    return int(max(1, min(19, math.floor(math.log2(MAP_WIDTH_PX * 360.0 / (span * TILE_PX))))))


def _path_d(geom: BaseGeometry) -> str:
    def ring(coords) -> str:
        pts = np.asarray(coords)[:, :2]
        return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts)

    if isinstance(geom, Polygon):
        return " ".join([ring(geom.exterior.coords) + "Z"] + [ring(i.coords) + "Z" for i in geom.interiors])
    if isinstance(geom, LineString):
        return ring(geom.coords)
    if isinstance(geom, (MultiPolygon, MultiLineString)) or hasattr(geom, "geoms"):
        return " ".join(_path_d(g) for g in geom.geoms if not isinstance(g, Point))
    return ""


def _svg_feature(geom: BaseGeometry, style: Style, label: str) -> str:
    title = f"<title>{html.escape(label)}</title>" if label else ""
    if isinstance(geom, (Point, MultiPoint)):
        pts = [geom] if isinstance(geom, Point) else list(geom.geoms)
        return "".join(f'<circle cx="{p.x:.1f}" cy="{p.y:.1f}" r="{style.radius}">{title}</circle>' for p in pts)
    return f'<path d="{_path_d(geom)}">{title}</path>'


def _svg_label(geom: BaseGeometry, label: str) -> str:
    p = geom.representative_point()
    return (f'<text x="{p.x:.1f}" y="{p.y:.1f}" text-anchor="middle" font-size="13" fill="#333" stroke="none" '
            f'fill-opacity="1" pointer-events="none">{html.escape(label.split(" (")[0])}</text>')


def _tiles_svg(url: str, zoom: int, x0: float, y0: float, x1: float, y1: float) -> str:
    out = []
    for tx in range(int(x0 // TILE_PX), int(x1 // TILE_PX) + 1):
        for ty in range(int(y0 // TILE_PX), int(y1 // TILE_PX) + 1):
            href = html.escape(url.format(z=zoom, x=tx, y=ty))
            out.append(f'<image href="{href}" x="{tx * TILE_PX}" y="{ty * TILE_PX}" width="{TILE_PX}" height="{TILE_PX}"/>')
    return "".join(out)


Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


def render_html(layers: list[Layer], title: str, tiles: str | None = None, bounds: Bounds | None = None) -> str:
    """One HTML file, no external resources (unless `tiles` names a tile server); opens on
    `bounds` (default: everything drawn)."""
    bounds = bounds or _bounds(layers)
    zoom = _zoom_for(bounds)
    fwd = _world_px(zoom)
    groups = []
    for i, layer in enumerate(layers):
        st = layer.style
        drawn = [(shapely.transform(f.geometry, fwd, interleaved=False).simplify(0.3), f.label)
                 for f in layer.features if not f.geometry.is_empty]
        body = "".join(_svg_feature(g, st, label) for g, label in drawn)
        if layer.show_labels:
            body += "".join(_svg_label(g, label) for g, label in drawn)
        dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
        groups.append(
            f'<g id="layer{i}" stroke="{st.stroke}" stroke-width="{st.width}" fill="{st.fill}" '
            f'fill-opacity="{st.fill_opacity}" vector-effect="non-scaling-stroke"{dash}'
            f'{"" if layer.visible else " style=display:none"}>{body}</g>'
        )
    (x0, y1), (x1, y0) = [tuple(map(float, fwd(lon, lat))) for lon, lat in ((bounds[0], bounds[1]), (bounds[2], bounds[3]))]
    pad = 0.04 * max(x1 - x0, y1 - y0)
    vb = (x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
    base = _tiles_svg(tiles, zoom, vb[0], vb[1], vb[0] + vb[2], vb[1] + vb[3]) if tiles else ""
    legend = "".join(
        f'<label><input type="checkbox" data-layer="layer{i}"{" checked" if layer.visible else ""}>'
        f'<span class="sw" style="border-color:{layer.style.stroke};background:{layer.style.fill if layer.style.fill != "none" else "transparent"}"></span>'
        f"{html.escape(layer.name)} ({len(layer.features)})</label>"
        for i, layer in enumerate(layers)
    )
    return _PAGE.format(
        title=html.escape(title), legend=legend, base=base, groups="".join(groups),
        vb=" ".join(f"{v:.1f}" for v in vb),
    )


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{margin:0;font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f4f6f8}}
header{{padding:8px 14px;background:#1f4e79;color:#fff;font-size:16px}}
#wrap{{display:flex;height:calc(100vh - 38px)}}
#legend{{width:260px;padding:10px;font-size:13px;overflow:auto;background:#fff;border-right:1px solid #ccc}}
#legend label{{display:block;margin:4px 0;cursor:pointer}}
.sw{{display:inline-block;width:14px;height:10px;border:2px solid;margin:0 6px;vertical-align:middle;opacity:.8}}
svg{{flex:1;background:#e9eef2;cursor:grab}} path:hover,circle:hover{{stroke-width:3;fill-opacity:.5}}
#hint{{color:#666;margin-top:12px}}
</style></head><body>
<header>{title}</header>
<div id="wrap"><div id="legend">{legend}<div id="hint">滚轮缩放 · 拖动平移 · 悬停查看名称<br>wheel: zoom · drag: pan · hover: name</div></div>
<svg id="map" viewBox="{vb}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">
<g id="base">{base}</g>{groups}</svg></div>
<script>
const svg=document.getElementById('map');let vb=svg.getAttribute('viewBox').split(' ').map(Number);
function set(){{svg.setAttribute('viewBox',vb.join(' '));}}
svg.addEventListener('wheel',e=>{{e.preventDefault();const r=svg.getBoundingClientRect();
const k=e.deltaY>0?1.2:1/1.2;const mx=vb[0]+(e.clientX-r.left)/r.width*vb[2],my=vb[1]+(e.clientY-r.top)/r.height*vb[3];
vb=[mx-(mx-vb[0])*k,my-(my-vb[1])*k,vb[2]*k,vb[3]*k];set();}},{{passive:false}});
let drag=null;svg.addEventListener('mousedown',e=>{{drag=[e.clientX,e.clientY];}});
window.addEventListener('mouseup',()=>drag=null);
window.addEventListener('mousemove',e=>{{if(!drag)return;const r=svg.getBoundingClientRect();
vb[0]-=(e.clientX-drag[0])/r.width*vb[2];vb[1]-=(e.clientY-drag[1])/r.height*vb[3];drag=[e.clientX,e.clientY];set();}});
document.querySelectorAll('#legend input').forEach(cb=>cb.addEventListener('change',()=>{{
document.getElementById(cb.dataset.layer).style.display=cb.checked?'':'none';}}));
</script></body></html>
"""


def render_png(layers: list[Layer], path: Path, title: str, bounds: Bounds | None = None) -> None:
    """Static picture of the same layers (for reports and issue notes), cropped to `bounds` if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    fwd = _world_px(0)
    fig, ax = plt.subplots(figsize=(11, 9), dpi=110)
    handles = []
    for layer in layers:
        if not layer.visible:
            continue
        st = layer.style
        for f in layer.features:
            g = shapely.transform(f.geometry, lambda lon, lat: (fwd(lon, lat)[0], -fwd(lon, lat)[1]), interleaved=False)
            if isinstance(g, (Point, MultiPoint)):
                pts = [g] if isinstance(g, Point) else list(g.geoms)
                ax.plot([p.x for p in pts], [p.y for p in pts], "o", ms=st.radius, color=st.stroke)
            elif isinstance(g, (LineString, MultiLineString)):
                for line in [g] if isinstance(g, LineString) else g.geoms:
                    x, y = line.xy
                    ax.plot(x, y, color=st.stroke, lw=st.width * 0.6)
            else:
                for poly in [g] if isinstance(g, Polygon) else getattr(g, "geoms", []):
                    verts, codes = [], []
                    for r in [poly.exterior, *poly.interiors]:
                        c = np.asarray(r.coords)[:, :2]
                        verts += c.tolist()
                        codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(c) - 2) + [MplPath.CLOSEPOLY]
                    ax.add_patch(PathPatch(MplPath(verts, codes), ec=st.stroke, lw=st.width * 0.6,
                                           fc=st.fill if st.fill != "none" else "none",
                                           alpha=None if st.fill == "none" else max(st.fill_opacity, 0.15),
                                           ls="--" if st.dash else "-"))
            if layer.show_labels:
                p = g.representative_point()
                ax.annotate(f.label.split(" (")[0], (p.x, p.y), ha="center", fontsize=9, color="#333")
        handles.append(plt.Line2D([], [], color=st.stroke, lw=2, label=f"{layer.name} ({len(layer.features)})"))
    ax.set_aspect("equal")
    ax.autoscale_view()
    if bounds is not None:
        (x0, y0), (x1, y1) = (fwd(bounds[0], bounds[1]), fwd(bounds[2], bounds[3]))
        ax.set_xlim(float(x0), float(x1))
        ax.set_ylim(-float(y0), -float(y1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_map(layers: list[Layer], path: Path, title: str, tiles: str | None = None,
              bounds: Bounds | None = None) -> None:
    """Write `path` as .html or .png, chosen by its suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        render_png(layers, path, title, bounds)
    elif path.suffix.lower() in (".html", ".htm"):
        path.write_text(render_html(layers, title, tiles, bounds), encoding="utf-8")
    else:
        raise ValueError(f"map output must end in .html or .png, got {path.name!r}")


def city_layers(city) -> list[Layer]:
    """Jurisdictions, patrol zones, no-fly zones and docks of a city config."""
    return [
        Layer("行政区 Districts", tuple(Feature(d.area, f"{d.name} ({d.adcode})") for d in city.districts),
              Style(stroke="#555", width=1.2, dash="4 3"), show_labels=True),
        Layer("巡查区 Patrol zones", tuple(Feature(z.area, f"{z.name} · {z.altitude_agl_m:g} m · P{z.priority}") for z in city.zones),
              Style(stroke="#1565c0", fill="#42a5f5", fill_opacity=0.25)),
        Layer("禁飞区 No-fly zones", tuple(Feature(n.area, n.name) for n in city.no_fly),
              Style(stroke="#c62828", fill="#ef5350", fill_opacity=0.35)),
        Layer("机巢 Docks", tuple(Feature(Point(k.lon, k.lat), f"{k.id}: {', '.join(d.id for d in k.drones)}") for k in city.docks),
              Style(stroke="#1b5e20", fill="#43a047", fill_opacity=0.9, radius=4)),
    ]
