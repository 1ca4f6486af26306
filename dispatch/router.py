"""Geo-router: which department gets an incident, decided from where it is and what type it is.

Rule: for the type's `handled_by` kinds in order of preference, the first kind that has a
department (handling that type) whose jurisdiction covers the point wins. Border points and
overlaps are covered by several jurisdictions; ties go to the better-ranked kind, then to the
jurisdiction listed first in the city config — so the same point always goes to the same place.
Points outside every jurisdiction, or where no local department handles the type, go to the
city catch-all. Jurisdictions are cut into grid pieces in an STRtree, queried in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from dispatch.departments import Department
from dispatch.taxonomy import Taxonomy

NO_RANK = np.iinfo(np.int32).max // 4
BULK_FROM = 32  # from this many points on, route() takes the bulk path
BUCKETS = 256  # bulk routing buckets points into BUCKETS × BUCKETS cells over the jurisdictions' bounds


@dataclass(frozen=True)
class Route:
    department: Department
    explanation: str


def grid_pieces(geom: BaseGeometry, cells_per_side: int) -> list[BaseGeometry]:
    """Cut a polygon along a grid over its bounds (small pieces: tight boxes, cheap point tests)."""
    x0, y0, x1, y1 = geom.bounds
    xs = np.linspace(x0, x1, cells_per_side + 1)
    ys = np.linspace(y0, y1, cells_per_side + 1)
    cells = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(cells_per_side) for j in range(cells_per_side)]
    parts = shapely.intersection(np.array(cells, dtype=object), geom)
    return [p for p in parts if not p.is_empty and p.area > 0]


class GeoRouter:
    def __init__(self, departments: tuple[Department, ...], taxonomy: Taxonomy, cells_per_side: int = 8):
        self.departments = departments
        self.taxonomy = taxonomy
        self.type_codes = [t.code for t in taxonomy.types]
        self.type_index = {c: i for i, c in enumerate(self.type_codes)}
        catch = [i for i, d in enumerate(departments) if d.catch_all or d.jurisdiction is None]
        if not catch:
            raise ValueError("departments: no city catch-all department (catch_all: true)")
        self.catch_all = catch[0]

        # Departments sharing one jurisdiction polygon share one "area", in config order.
        areas: list[BaseGeometry] = []
        self.area_names: list[str] = []
        area_of_wkb: dict[bytes, int] = {}
        dept_area = {}
        for i, d in enumerate(departments):
            if d.jurisdiction is None or i == self.catch_all:
                continue
            wkb = shapely.to_wkb(d.jurisdiction)
            if wkb not in area_of_wkb:
                area_of_wkb[wkb] = len(areas)
                areas.append(d.jurisdiction)
                self.area_names.append(d.jurisdiction_name)
            dept_area[i] = area_of_wkb[wkb]

        # rank[t, a]: preference index of the best kind that area a has for type t; dept[t, a]: who.
        n_types, n_areas = len(self.type_codes), len(areas)
        self.rank = np.full((n_types, max(n_areas, 1)), NO_RANK, dtype=np.int64)
        self.choice = np.full((n_types, max(n_areas, 1)), self.catch_all, dtype=np.int64)
        for t, vt in enumerate(taxonomy.types):
            for i, a in dept_area.items():
                d = departments[i]
                if vt.code not in d.handles or d.kind not in vt.handled_by:
                    continue
                r = vt.handled_by.index(d.kind)
                if r < self.rank[t, a]:
                    self.rank[t, a], self.choice[t, a] = r, i
        self.n_areas = max(n_areas, 1)

        pieces, owner = [], []
        for a, geom in enumerate(areas):
            for p in grid_pieces(geom, cells_per_side):
                pieces.append(p)
                owner.append(a)
        self.piece_area = np.array(owner, dtype=np.int64)
        self.pieces = np.array(pieces, dtype=object)
        shapely.prepare(self.pieces)
        self.tree = shapely.STRtree(self.pieces)
        self.piece_count = len(pieces)
        self.bounds = tuple(shapely.total_bounds(self.pieces)) if pieces else (0.0, 0.0, 0.0, 0.0)

    def route_indices(self, lon: np.ndarray, lat: np.ndarray, type_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bulk: department index and (first) containing area index, -1 if outside all, per point."""
        n = len(lon)
        hit_pt, hit_piece = self._hits(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        hit_area = self.piece_area[hit_piece]
        key = self.rank[type_idx[hit_pt], hit_area] * self.n_areas + hit_area
        best = np.full(n, NO_RANK * self.n_areas, dtype=np.int64)
        np.minimum.at(best, hit_pt, key)
        first_area = np.full(n, self.n_areas, dtype=np.int64)
        np.minimum.at(first_area, hit_pt, hit_area)
        local = best < NO_RANK * self.n_areas
        dept = np.full(n, self.catch_all, dtype=np.int64)
        dept[local] = self.choice[type_idx[local], best[local] % self.n_areas]
        area = np.where(local, best % self.n_areas, np.where(first_area < self.n_areas, first_area, -1))
        return dept, area

    def _hits(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, piece) pair where the piece covers the point.

        Points are bucketed into grid cells; one STRtree bulk query finds the pieces each cell
        box meets, a second which pieces hold a cell box whole. Points in a whole-held cell need
        no test at all; the rest (cells on an outline) are tested exactly, vectorised.
        """
        x0, y0, x1, y1 = self.bounds
        if self.piece_count == 0 or len(lon) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        inside = np.nonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))[0]
        g = BUCKETS
        cx = np.minimum(((lon[inside] - x0) / (x1 - x0) * g).astype(np.int64), g - 1)
        cy = np.minimum(((lat[inside] - y0) / (y1 - y0) * g).astype(np.int64), g - 1)
        order = np.argsort(cy * g + cx, kind="stable")
        cells, start, count = np.unique((cy * g + cx)[order], return_index=True, return_counts=True)
        dx, dy = (x1 - x0) / g, (y1 - y0) / g
        ux, uy = cells % g, cells // g
        boxes = shapely.box(x0 + ux * dx, y0 + uy * dy, x0 + (ux + 1) * dx, y0 + (uy + 1) * dy)
        meet_box, meet_piece = self.tree.query(boxes)
        whole_box, whole_piece = self.tree.query(boxes, predicate="within")
        whole = np.isin(meet_box * self.piece_count + meet_piece, whole_box * self.piece_count + whole_piece)

        def expand(box_i: np.ndarray, piece_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            c = count[box_i]
            offsets = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
            return inside[order[np.repeat(start[box_i], c) + offsets]], np.repeat(piece_i, c)

        sure_pt, sure_piece = expand(meet_box[whole], meet_piece[whole])
        edge_pt, edge_piece = expand(meet_box[~whole], meet_piece[~whole])
        ok = shapely.intersects_xy(self.pieces[edge_piece], lon[edge_pt], lat[edge_pt])
        return np.concatenate([sure_pt, edge_pt[ok]]), np.concatenate([sure_piece, edge_piece[ok]])

    def route_one_indices(self, lon: float, lat: float, type_idx: int) -> tuple[int, int]:
        """One point at a time (the per-point baseline of the benchmark; same rule as the bulk path)."""
        hits = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        best_key, first_area = None, -1
        for a in sorted({int(self.piece_area[h]) for h in hits}):
            first_area = a if first_area < 0 else first_area
            r = int(self.rank[type_idx, a])
            if r < NO_RANK and (best_key is None or (r, a) < best_key):
                best_key = (r, a)
        if best_key is None:
            return self.catch_all, first_area
        return int(self.choice[type_idx, best_key[1]]), best_key[1]

    def route(self, lons: list[float], lats: list[float], types: list[str]) -> list[Route]:
        """Route a few points one by one (less overhead) and many in bulk; the decisions are the same."""
        idx = [self.type_index[t] for t in types]
        if len(idx) < BULK_FROM:
            pairs = [self.route_one_indices(x, y, t) for x, y, t in zip(lons, lats, idx)]
        else:
            dept, area = self.route_indices(np.array(lons), np.array(lats), np.array(idx, dtype=np.int64))
            pairs = list(zip(dept.tolist(), area.tolist()))
        return [self._route(d, a, t) for (d, a), t in zip(pairs, types)]

    def _route(self, dept: int, area: int, code: str) -> Route:
        d, t = self.departments[dept], self.taxonomy.type(code)
        where_zh = f"位于{self.area_names[area]}" if area >= 0 else "不在任何辖区内"
        where_en = f"inside {self.area_names[area]}" if area >= 0 else "outside every jurisdiction"
        if dept == self.catch_all:
            why_zh = "" if area < 0 else f"，本地无处理{t.zh}的部门"
            why_en = "" if area < 0 else f", no local department handles {t.en}"
            return Route(d, f"{where_zh}{why_zh}；类型 {t.zh} → 全市兜底：{d.name} | "
                            f"{where_en}{why_en}; type {t.en} → city catch-all: {d.name_en}")
        pref = t.handled_by.index(d.kind) + 1
        kind_en = self.taxonomy.kind_en(d.kind)
        return Route(d, f"{where_zh}；类型 {t.zh} → {d.kind}（第{pref}优先）：{d.name} | "
                        f"{where_en}; type {t.en} → {kind_en} (preference {pref}): {d.name_en}")
