"""The published request contract (OpenAPI): a Sighting as the detector side sends it."""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, ValidationInfo, create_model, field_validator

Finite = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=False)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)  # no drone photo is older; older dates are typos or probes
# What JSON Schema can say of `time`: the shape (month 01-12, day 01-31, hour 00-23, ...; a day the
# month lacks, e.g. 02-30, still gets 422), and the earliest value ("formatMinimum", ajv's keyword).
UTC_PATTERN = (r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|\+00:00)$")


def _storable(v: str) -> str:
    """Every store keeps it: no NUL (PostgreSQL text refuses it), no lone surrogate (not UTF-8)."""
    if "\x00" in v:
        raise ValueError("text must not contain a NUL character (\\u0000)")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (a lone surrogate such as \\udfff is not)") from None
    return v


def is_storable(v: str) -> bool:
    """For identifiers in paths and queries: unstorable text cannot name anything, so it is simply not found."""
    try:
        _storable(v)
    except ValueError:
        return False
    return True


Text = Annotated[str, AfterValidator(_storable)]
Number = StrictFloat  # JSON numbers only: `true` or "1.0" is refused, not read as 1.0


def _box_schema(schema: dict[str, Any]) -> None:
    """Publish what JSON Schema can check of the box order: every corner >= 0, x0/y0 then x1/y1.
    (x0 < x1 and y0 < y1 compare two items, which JSON Schema cannot; the description says it.)"""
    for item, name in zip(schema["prefixItems"], ("x0", "y0", "x1", "y1")):
        item.update(minimum=0, title=name)


class ImageRef(BaseModel):
    model_config = Finite

    ref: Text = Field(min_length=1, max_length=500, description="where the full frame is kept (path or URL)")
    box: tuple[Number, Number, Number, Number] = Field(
        description="pixel box [x0, y0, x1, y1] of the finding in the frame: 0 <= x0 < x1 and 0 <= y0 < y1",
        json_schema_extra=_box_schema)

    @field_validator("box")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = v
        if min(v) < 0 or x1 <= x0 or y1 <= y0:
            raise ValueError("box must be [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1")
        return v


class PolygonGeoJSON(BaseModel):
    """RFC 7946 Polygon: rings of [lon, lat] positions, each ring closed, at least 4 positions."""

    model_config = Finite

    type: Literal["Polygon"]
    coordinates: list[list[tuple[Number, Number]]] = Field(min_length=1, max_length=100)

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for i, ring in enumerate(rings):
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError(f"ring {i} must be closed and have at least 4 positions")
            for lon, lat in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError(f"ring {i}: position [{lon}, {lat}] is not [lon, lat] in range")
        return rings


class SightingBase(BaseModel):
    model_config = Finite

    key: Text = Field(min_length=1, max_length=200, description="idempotency key; a repeat creates nothing new")
    type: str = Field(description="violation type code from configs/taxonomy.yaml")
    confidence: Number = Field(ge=0, le=1)
    lat: Number = Field(ge=-90, le=90, description="WGS 84 latitude; must lie within the city's extent")
    lon: Number = Field(ge=-180, le=180, description="WGS 84 longitude; must lie within the city's extent")
    uncertainty_m: Number = Field(ge=0, le=100_000, description="1-sigma position uncertainty in metres")
    time: datetime = Field(
        description="ISO-8601 UTC ending in 'Z' or '+00:00', e.g. 2026-07-01T08:30:00Z; "
                    "not before 2000-01-01 and not in the future (beyond the server's allowed clock skew)",
        json_schema_extra={"pattern": UTC_PATTERN, "formatMinimum": EARLIEST.isoformat().replace("+00:00", "Z")})
    footprint: PolygonGeoJSON | None = None
    image: ImageRef
    evidence_jpeg_b64: Text | None = Field(None, description="base64 JPEG crop of the finding")
    evidence_box: tuple[Number, Number, Number, Number] | None = Field(
        None, description="pixel box [x0, y0, x1, y1] of the finding inside the evidence crop (what an analyst "
                          "confirms or corrects, and what a training label is made from)")
    model_version: Text = Field(min_length=1, max_length=100)
    drone_id: Text = Field(min_length=1, max_length=100)
    sortie_id: Text = Field(min_length=1, max_length=100)
    unverified: bool = Field(False, description="the model's class was not validated on real photos: the alert "
                                                "is held for an analyst (status 'held') and not sent to the department")

    @field_validator("time", mode="before")
    @classmethod
    def _utc_string(cls, v: Any) -> Any:
        if not isinstance(v, str) or not (v.endswith("Z") or v.endswith("+00:00")):
            raise ValueError("time must be an ISO-8601 UTC string ending in 'Z', e.g. 2026-07-01T08:30:00Z")
        return v

    @field_validator("time")
    @classmethod
    def _not_future(cls, v: datetime, info: ValidationInfo) -> datetime:
        v = v.astimezone(timezone.utc)
        if v < EARLIEST:
            raise ValueError(f"time is before {EARLIEST.date().isoformat()}; send the photo's capture time in UTC")
        ctx = info.context or {}
        if "now" in ctx and v > ctx["now"] + timedelta(seconds=ctx.get("skew_s", 0)):
            raise ValueError(f"time is in the future (server time {ctx['now'].isoformat()})")
        return v

    @field_validator("evidence_box")
    @classmethod
    def _crop_box(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        return None if v is None else ImageRef._ordered(v)

    @field_validator("evidence_jpeg_b64")
    @classmethod
    def _jpeg(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("evidence_jpeg_b64 is not valid base64") from None
        limit = (info.context or {}).get("max_evidence_bytes", math.inf)
        if len(raw) > limit:
            raise ValueError(f"evidence image is {len(raw)} bytes; at most {limit} allowed")
        if not raw.startswith(b"\xff\xd8\xff"):
            raise ValueError("evidence_jpeg_b64 does not decode to a JPEG (no FF D8 FF marker)")
        return v

    @property
    def evidence_bytes(self) -> bytes | None:
        return None if self.evidence_jpeg_b64 is None else base64.b64decode(self.evidence_jpeg_b64)


def sighting_model(codes: list[str]) -> type[SightingBase]:
    """The Sighting model for one taxonomy: `type` is an enum of its codes, so OpenAPI publishes them."""
    return create_model("Sighting", __base__=SightingBase, type=(Literal[tuple(codes)], Field(description="violation type code")))


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[Text, Field(max_length=2000)] = ""


class AccountIn(BaseModel):
    """A person who will act for a department; `login` is how the audit trail names them."""

    model_config = ConfigDict(extra="forbid")

    login: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,31}$",
                                description="lower-case letters, digits, . _ -; at most 32, e.g. zhang.san")]
    name: Annotated[Text, Field(min_length=1, max_length=60, description="the person's name, e.g. 张三")]


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    grace_hours: Annotated[Number, Field(ge=0, le=720, description="how long the old secrets go on signing too")] = 24.0
