"""Base maps from the environment: each provider, the frame overlays are drawn in, the
Content-Security-Policy's tile hosts, and a clear message for every mistake."""
from __future__ import annotations

import pytest

from fieldapp.mapview.basemaps import BaseMapError, BaseMaps, from_environ

KEY = "0123456789abcdef0123456789abcdef"


def test_nothing_set_is_the_offline_base_alone():
    maps = from_environ({})
    assert maps == BaseMaps() and maps.provider == "offline" and maps.frame == "wgs84"
    assert maps.image_sources() == []
    assert maps.client("/map/static/vendor/offline-base.json") == {
        "provider": "offline", "frame": "wgs84", "bases": [],
        "offline": "/map/static/vendor/offline-base.json"}


def test_tianditu_key_gives_map_and_imagery_with_their_labels():
    maps = from_environ({"FIELDAPP_TIANDITU_KEY": KEY})
    assert maps.provider == "tianditu" and maps.frame == "wgs84"  # CGCS2000: no shift
    vec, img = maps.bases
    assert [vec.id, img.id] == ["tianditu-vec", "tianditu-img"]
    assert vec.layers == (
        f"https://t{{0-7}}.tianditu.gov.cn/DataServer?T=vec_w&x={{x}}&y={{y}}&l={{z}}&tk={KEY}",
        f"https://t{{0-7}}.tianditu.gov.cn/DataServer?T=cva_w&x={{x}}&y={{y}}&l={{z}}&tk={KEY}")
    assert "T=img_w" in img.layers[0] and "T=cia_w" in img.layers[1]
    assert "天地图" in vec.attribution
    assert maps.image_sources() == ["https://*.tianditu.gov.cn"]


def test_tianditu_layers_are_chosen_and_ordered():
    maps = from_environ({"FIELDAPP_MAP_BASE": "Tianditu", "FIELDAPP_TIANDITU_KEY": KEY,
                         "FIELDAPP_TIANDITU_LAYERS": " img , ter"})
    assert [b.id for b in maps.bases] == ["tianditu-img", "tianditu-ter"]
    assert "T=cta_w" in maps.bases[1].layers[1] and maps.bases[1].max_zoom == 14


def test_an_amap_kind_template_shifts_the_frame_to_gcj02():
    template = "https://webrd0{1-4}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}"
    maps = from_environ({"FIELDAPP_MAP_TILE_URL": template, "FIELDAPP_MAP_TILE_CRS": "GCJ02",
                         "FIELDAPP_MAP_TILE_ATTRIBUTION": "© 高德地图 AutoNavi",
                         "FIELDAPP_MAP_TILE_MAX_ZOOM": "18"})
    assert maps.provider == "xyz" and maps.frame == "gcj02"
    (base,) = maps.bases
    assert base.layers == (template,) and base.attribution == "© 高德地图 AutoNavi"
    assert maps.image_sources() == ["https://*.is.autonavi.com"]
    assert maps.client("/o.json")["frame"] == "gcj02"


def test_a_plain_template_is_wgs84_and_credits_its_host_by_default():
    maps = from_environ({"FIELDAPP_MAP_TILE_URL": "http://127.0.0.1:8080/tiles/{z}/{x}/{-y}.png"})
    assert maps.frame == "wgs84" and maps.bases[0].attribution == "127.0.0.1"
    assert maps.bases[0].max_zoom == 18
    assert maps.image_sources() == ["http://127.0.0.1:8080"]


@pytest.mark.parametrize(("environ", "names"), [
    ({"FIELDAPP_MAP_BASE": "google"}, ["FIELDAPP_MAP_BASE", "'google'", "tianditu"]),
    ({"FIELDAPP_MAP_BASE": "tianditu"}, ["FIELDAPP_TIANDITU_KEY", "浏览器端"]),
    ({"FIELDAPP_TIANDITU_KEY": "abc def&x=1"}, ["FIELDAPP_TIANDITU_KEY", "letters and digits"]),
    ({"FIELDAPP_TIANDITU_KEY": KEY, "FIELDAPP_TIANDITU_LAYERS": "vec,satellite"},
     ["FIELDAPP_TIANDITU_LAYERS", "'vec,satellite'", "vec, img, ter"]),
    ({"FIELDAPP_TIANDITU_KEY": KEY, "FIELDAPP_TIANDITU_LAYERS": "vec,vec"},
     ["FIELDAPP_TIANDITU_LAYERS", "once"]),
    ({"FIELDAPP_TIANDITU_KEY": KEY, "FIELDAPP_MAP_TILE_URL": "https://a/{z}/{x}/{y}.png"},
     ["FIELDAPP_MAP_BASE=tianditu", "FIELDAPP_MAP_BASE=xyz"]),
    ({"FIELDAPP_MAP_BASE": "xyz"}, ["FIELDAPP_MAP_TILE_URL", "{z}/{x}/{y}"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://tiles.example/{z}/{x}.png"},
     ["FIELDAPP_MAP_TILE_URL", "{y}", "'https://tiles.example/{z}/{x}.png'"]),
    ({"FIELDAPP_MAP_TILE_URL": "ftp://tiles.example/{z}/{x}/{y}.png"},
     ["FIELDAPP_MAP_TILE_URL", "http(s)"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://tiles.example;x/{z}/{x}/{y}.png"},
     ["FIELDAPP_MAP_TILE_URL", "http(s)"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://tiles.example/{z}/{x}/{y}.png\" onload=\"x"},
     ["FIELDAPP_MAP_TILE_URL"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://t.example/{z}/{x}/{y}", "FIELDAPP_MAP_TILE_CRS": "bd09"},
     ["FIELDAPP_MAP_TILE_CRS", "'bd09'", "gcj02"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://t.example/{z}/{x}/{y}",
      "FIELDAPP_MAP_TILE_MAX_ZOOM": "twenty"}, ["FIELDAPP_MAP_TILE_MAX_ZOOM", "'twenty'"]),
    ({"FIELDAPP_MAP_TILE_URL": "https://t.example/{z}/{x}/{y}",
      "FIELDAPP_MAP_TILE_MAX_ZOOM": "30"}, ["FIELDAPP_MAP_TILE_MAX_ZOOM", "1 to 22"]),
])
def test_every_mistake_names_the_variable_and_what_it_may_hold(environ, names):
    with pytest.raises(BaseMapError) as raised:
        from_environ(environ)
    for name in names:
        assert name in str(raised.value)


def test_the_app_refuses_to_start_on_a_mistake(monkeypatch):
    from fieldapp.config import Config

    monkeypatch.setenv("FIELDAPP_MAP_BASE", "tianditu")
    monkeypatch.delenv("FIELDAPP_TIANDITU_KEY", raising=False)
    with pytest.raises(RuntimeError, match="FIELDAPP_TIANDITU_KEY"):
        Config()
