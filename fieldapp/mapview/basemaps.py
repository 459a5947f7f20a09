"""The base maps of the map page and the console, read from the environment.

Pure: no Flask. `from_environ` turns the FIELDAPP_MAP_* and FIELDAPP_TIANDITU_* variables into
a `BaseMaps`; the pages get `client()` as JSON (what basemap.js draws) and the image sources
their Content-Security-Policy must allow. A mistake in the variables is a `BaseMapError`
naming the variable, what it holds and what it may hold, raised when the app starts.

Whatever is configured, the offline base (provinces, coastline, rivers, packaged at install
time) lies under it, so a map still shows China when the provider cannot be reached.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PROVIDERS = ("offline", "tianditu", "xyz")
FRAMES = ("wgs84", "gcj02")

# Tianditu (天地图), the national platform: Web Mercator tiles on CGCS2000, which is WGS-84
# to well under a metre, so no overlay is shifted. Each base is an image layer and its
# annotation (注记) layer on top; eight hosts t0..t7 spread the load.
TIANDITU_URL = ("https://t{0-7}.tianditu.gov.cn/DataServer?T=%s_w&x={x}&y={y}&l={z}&tk=%s")
TIANDITU_BASES = {
    "vec": ("cva", "天地图 矢量 Tianditu map", 18),
    "img": ("cia", "天地图 影像 Tianditu imagery", 18),
    "ter": ("cta", "天地图 地形 Tianditu terrain", 14),
}
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu, 国家地理信息公共服务平台"
TIANDITU_DEFAULT_LAYERS = "vec,img"

_KEY = re.compile(r"[0-9A-Za-z]{8,128}")
_HOST = re.compile(r"[0-9A-Za-z.\-\[\]:{}]+")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class BaseMapError(RuntimeError):
    """A base-map variable that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Base:
    """One choice of base map: raster XYZ layers drawn bottom first."""

    id: str
    name: str
    layers: tuple[str, ...]
    max_zoom: int
    attribution: str


@dataclass(frozen=True)
class BaseMaps:
    """The configured online bases (the first is shown first) and the frame they are drawn
    in: on a GCJ-02 base every overlay is shifted into GCJ-02 in the browser."""

    provider: str = "offline"
    frame: str = "wgs84"
    bases: tuple[Base, ...] = ()

    def client(self, offline_url: str) -> dict:
        """What the pages' basemap.js reads (the body's data-basemap attribute)."""
        return {
            "provider": self.provider, "frame": self.frame, "offline": offline_url,
            "bases": [{"id": b.id, "name": b.name, "layers": list(b.layers),
                       "maxZoom": b.max_zoom, "attribution": b.attribution}
                      for b in self.bases],
        }

    def image_sources(self) -> list[str]:
        """CSP img-src entries for the tiles: each template's origin, its templated first
        label (t{0-7}.tianditu.gov.cn) as a wildcard, a range elsewhere in its host
        (tile.{a-c}.example.org) as each host OpenLayers makes of it."""
        sources = []
        for base in self.bases:
            for template in base.layers:
                for source in _image_sources(template):
                    if source not in sources:
                        sources.append(source)
        return sources


# OpenLayers expands one range in a template, letters first (ol/uri.js expandUrl).
_RANGES = (re.compile(r"\{([a-z])-([a-z])\}"), re.compile(r"\{(\d+)-(\d+)\}"))


def _expand(template: str) -> list[str]:
    for kind, pattern in enumerate(_RANGES):
        found = pattern.search(template)
        if found:
            first, last = found.groups()
            values = (range(ord(first), ord(last) + 1) if kind == 0
                      else range(int(first), int(last) + 1))
            return [template.replace(found.group(0), chr(v) if kind == 0 else str(v), 1)
                    for v in values]
    return [template]


def _image_sources(template: str) -> list[str]:
    """The origins a template's tiles come from, for img-src. A host that stays templated
    is a BaseMapError: its only source would be the whole scheme, every host there is."""
    parts = urlsplit(template)
    first, _, rest = parts.netloc.partition(".")
    if "{" in first and rest and "{" not in rest:
        return [f"{parts.scheme}://*.{rest}"]
    hosts = [urlsplit(url).netloc for url in _expand(template)]
    if any("{" in host for host in hosts):
        raise BaseMapError(f"FIELDAPP_MAP_TILE_URL may template its host only in its first "
                           f"label or with one range such as {{a-c}} or {{1-4}}, got "
                           f"{template!r}")
    return [f"{parts.scheme}://{host}" for host in dict.fromkeys(hosts)]


def from_environ(environ: Mapping[str, str]) -> BaseMaps:
    """The base maps the variables ask for; a BaseMapError if they cannot be used."""
    def get(name: str) -> str:
        return (environ.get(name) or "").strip()

    key, template = get("FIELDAPP_TIANDITU_KEY"), get("FIELDAPP_MAP_TILE_URL")
    provider = get("FIELDAPP_MAP_BASE").lower()
    if not provider:
        if key and template:
            raise BaseMapError(
                "both FIELDAPP_TIANDITU_KEY and FIELDAPP_MAP_TILE_URL are set: choose one "
                "with FIELDAPP_MAP_BASE=tianditu or FIELDAPP_MAP_BASE=xyz")
        provider = "tianditu" if key else "xyz" if template else "offline"
    if provider not in PROVIDERS:
        raise BaseMapError(f"FIELDAPP_MAP_BASE must be one of {', '.join(PROVIDERS)}, "
                           f"got {provider!r}")
    if provider == "tianditu":
        return BaseMaps("tianditu", "wgs84", _tianditu(key, get("FIELDAPP_TIANDITU_LAYERS")))
    if provider == "xyz":
        frame = get("FIELDAPP_MAP_TILE_CRS").lower() or "wgs84"
        if frame not in FRAMES:
            raise BaseMapError(f"FIELDAPP_MAP_TILE_CRS must be one of {', '.join(FRAMES)} "
                               f"(gcj02 for AMap/Gaode and Tencent tiles), got {frame!r}")
        return BaseMaps("xyz", frame, (_xyz(template, get("FIELDAPP_MAP_TILE_ATTRIBUTION"),
                                            get("FIELDAPP_MAP_TILE_MAX_ZOOM")),))
    return BaseMaps()


def _tianditu(key: str, layers: str) -> tuple[Base, ...]:
    if not key:
        raise BaseMapError("FIELDAPP_MAP_BASE=tianditu needs FIELDAPP_TIANDITU_KEY, a key "
                           "of the browser kind (浏览器端) from the Tianditu console")
    if not _KEY.fullmatch(key):
        raise BaseMapError("FIELDAPP_TIANDITU_KEY must be the key as Tianditu shows it "
                           "(letters and digits only)")
    names = [n.strip().lower() for n in (layers or TIANDITU_DEFAULT_LAYERS).split(",")
             if n.strip()]
    unknown = [n for n in names if n not in TIANDITU_BASES]
    if not names or unknown or len(set(names)) != len(names):
        raise BaseMapError(
            f"FIELDAPP_TIANDITU_LAYERS must list some of {', '.join(TIANDITU_BASES)} once "
            f"each, comma-separated (the first is shown first), got {layers!r}")
    bases = []
    for name in names:
        labels, title, max_zoom = TIANDITU_BASES[name]
        bases.append(Base(f"tianditu-{name}", title,
                          (TIANDITU_URL % (name, key), TIANDITU_URL % (labels, key)),
                          max_zoom, TIANDITU_ATTRIBUTION))
    return tuple(bases)


def _xyz(template: str, attribution: str, max_zoom: str) -> Base:
    if not template:
        raise BaseMapError("FIELDAPP_MAP_BASE=xyz needs FIELDAPP_MAP_TILE_URL, an XYZ "
                           "template such as https://tiles.example.org/{z}/{x}/{y}.png")
    parts = urlsplit(template)
    placeholders = set(_PLACEHOLDER.findall(template))
    if parts.scheme not in ("http", "https") or not parts.netloc \
            or not _HOST.fullmatch(parts.netloc) or re.search(r"[\s\"'<>]", template):
        raise BaseMapError(f"FIELDAPP_MAP_TILE_URL must be an http(s) URL template, got "
                           f"{template!r}")
    if not {"{z}", "{x}"} <= placeholders or not placeholders & {"{y}", "{-y}"}:
        raise BaseMapError(f"FIELDAPP_MAP_TILE_URL must contain {{z}}, {{x}} and {{y}} (or "
                           f"{{-y}} for TMS rows), got {template!r}")
    try:
        zoom = int(max_zoom) if max_zoom else 18
    except ValueError:
        zoom = -1
    if not 1 <= zoom <= 22:
        raise BaseMapError(f"FIELDAPP_MAP_TILE_MAX_ZOOM must be a whole number from 1 to 22, "
                           f"got {max_zoom!r}")
    _image_sources(template)  # its hosts can be named in the pages' img-src
    return Base("xyz", "在线底图 Online base map", (template,), zoom,
                attribution or parts.hostname or parts.netloc)
