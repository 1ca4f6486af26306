"""Fuzzing the city loaders: the config YAML, the district and zone GeoJSON files, each replaced
by a mutation of the real Quzhou file (any node swapped for any value, text cut or bytes
flipped) or by arbitrary JSON. `load_city` must load or raise ConfigError naming the problem:
no other exception ever reaches the operator. Bounded: fixed example counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patrol.config import ConfigError, load_city
from tests.conftest import ROOT

CONFIGS = ROOT / "configs"
FILES = {"config": CONFIGS / "quzhou.yaml", "districts": CONFIGS / "geo/quzhou_districts.geojson",
         "zones": CONFIGS / "geo/quzhou_zones.geojson"}
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)


def paths(node, at=()):
    """Every place in a parsed document, as a key path."""
    yield at
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield from paths(v, at + (k,))


def replaced(doc, at, value):
    if not at:
        return value
    node = doc
    for k in at[:-1]:
        node = node[k]
    node[at[-1]] = value
    return doc


@st.composite
def mutated(draw, which: str) -> bytes:
    text = FILES[which].read_text(encoding="utf-8")
    how = draw(st.sampled_from(["node", "node", "bytes", "cut", "any"]))
    if how == "any":
        return json.dumps(draw(values)).encode()
    if how in ("bytes", "cut"):
        data = bytearray(text.encode())
        if how == "cut":
            return bytes(data[: draw(st.integers(0, len(data)))])
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    doc = yaml.safe_load(text) if which == "config" else json.loads(text)
    places = list(paths(doc))
    doc = replaced(doc, draw(st.sampled_from(places[: 400] + places[-400:])), draw(values))
    if which == "config":
        return yaml.safe_dump(doc, allow_unicode=True).encode()
    return json.dumps(doc, allow_nan=True).encode()


@pytest.fixture(scope="module")
def city_dir(tmp_path_factory) -> Path:
    """A copy of configs/ whose three files a test can overwrite (the taxonomy is linked)."""
    work = tmp_path_factory.mktemp("city")
    (work / "geo").mkdir()
    (work / "taxonomy.yaml").symlink_to(CONFIGS / "taxonomy.yaml")
    return work


def load_with(city_dir: Path, which: str, content: bytes) -> None:
    for name, src in FILES.items():
        (city_dir / src.relative_to(CONFIGS)).write_bytes(content if name == which else src.read_bytes())
    try:
        load_city(city_dir / "quzhou.yaml")
    except ConfigError as exc:
        assert str(exc).strip(), "a ConfigError says what is wrong"


@FUZZ
@given(content=mutated("config"))
def test_any_config_yaml_loads_or_is_a_config_error(city_dir, content):
    load_with(city_dir, "config", content)


@FUZZ
@given(content=mutated("districts"))
def test_any_districts_geojson_loads_or_is_a_config_error(city_dir, content):
    load_with(city_dir, "districts", content)


@FUZZ
@given(content=mutated("zones"))
def test_any_zones_geojson_loads_or_is_a_config_error(city_dir, content):
    load_with(city_dir, "zones", content)
