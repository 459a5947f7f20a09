// The one map component of the map page and the staff console: the base maps, the frame the
// overlays are drawn in, and the map itself, so that what is set here serves both pages.
//
// The server names the base maps in <body data-basemap='{...}'> (fieldapp/mapview/basemaps.py):
// Tianditu or an XYZ template, and always the offline base built at install time (provinces,
// coastline, rivers), which lies under any provider, so the map still shows China when the
// provider cannot be reached. On a GCJ-02 base (AMap and its kind) the map's frame is GCJ-02
// Web Mercator: every overlay, given in WGS-84, is shifted into it by gcj02.js, so a photo's
// point lands on the building the tiles show there. Pages never call ol.proj themselves for
// overlays: they use fromLonLat, toLonLat, toLonLatExtent, toServerExtent and geoJSON.
(function () {
  'use strict';

  const config = Object.assign({ frame: 'wgs84', bases: [], offline: '' },
    JSON.parse(document.body.dataset.basemap || '{}'));
  const mercator = ol.proj.get('EPSG:3857');
  const projection = config.frame === 'gcj02' ? gcj02Mercator() : mercator;
  const BASE_KEY = 'fieldapp.base';
  const OFFLINE = 'offline';
  const maps = [];

  // Web Mercator of GCJ-02 longitudes and latitudes: the tile grid of AMap-kind providers.
  // With its transforms registered, OpenLayers shifts whatever it reads or draws in WGS-84.
  function gcj02Mercator() {
    const code = 'GCJ-02:3857';
    const known = ol.proj.get(code);
    if (known) return known;
    const frame = new ol.proj.Projection({
      code, units: 'm', extent: mercator.getExtent(), worldExtent: mercator.getWorldExtent(),
      global: true,
    });
    ol.proj.addProjection(frame);
    const { wgs84ToGcj02, gcj02ToWgs84 } = window.fieldappGcj02;
    const toGcj = ([lon, lat]) => ol.proj.fromLonLat(wgs84ToGcj02(lon, lat));
    const fromGcj = (c) => gcj02ToWgs84(...ol.proj.toLonLat(c));
    ol.proj.addCoordinateTransforms('EPSG:4326', frame, toGcj, fromGcj);
    ol.proj.addCoordinateTransforms(mercator, frame, (c) => toGcj(ol.proj.toLonLat(c)),
      (c) => ol.proj.fromLonLat(fromGcj(c)));
    return frame;
  }

  // ---- WGS-84 in, the map's frame out (and back) -------------------------------------------

  const fromLonLat = (lonLat) => ol.proj.fromLonLat(lonLat, projection);
  const toLonLat = (coordinate) => ol.proj.toLonLat(coordinate, projection);
  const toLonLatExtent = (extent) => ol.proj.transformExtent(extent, projection, 'EPSG:4326');
  const geoJSON = () => new ol.format.GeoJSON({ featureProjection: projection });

  // The server's vector tiles are WGS-84 Web Mercator (the layers' sources say so, as is
  // their default): OpenLayers moves their features into the map's frame as it draws them.
  const toServerExtent = (extent) => ol.proj.transformExtent(extent, projection, mercator);

  // ---- the offline base ----------------------------------------------------------------------

  const LAND = '#f3f0e8';
  const offlineStyles = {
    land: new ol.style.Style({ fill: new ol.style.Fill({ color: LAND }) }),
    lakes: new ol.style.Style({ fill: new ol.style.Fill({ color: '#c4dbec' }) }),
    rivers: new ol.style.Style({ stroke: new ol.style.Stroke({ color: '#7fb0d8', width: 1.2 }) }),
    borders: new ol.style.Style({
      stroke: new ol.style.Stroke({ color: '#a9a498', width: 1, lineDash: [6, 3] }) }),
    outline: new ol.style.Style({ stroke: new ol.style.Stroke({ color: '#5f6f80', width: 1.4 }) }),
  };
  const provinceStroke = new ol.style.Stroke({ color: '#b3aa98', width: 0.8, lineDash: [4, 3] });
  const provinceFill = new ol.style.Fill({ color: LAND });

  function offlineStyle(feature, resolution) {
    const layer = feature.get('layer');
    if (layer !== 'provinces') return offlineStyles[layer];
    // Names while a province spans some of the screen (zoom 4 to 8).
    const named = resolution < 10000 && resolution > 600;
    return new ol.style.Style({
      fill: provinceFill, stroke: provinceStroke,
      text: named ? new ol.style.Text({
        text: feature.get('name'), font: '11px sans-serif', overflow: false,
        fill: new ol.style.Fill({ color: '#8a8170' }),
        stroke: new ol.style.Stroke({ color: LAND, width: 3 }),
      }) : undefined,
    });
  }

  // Drawn in this order; the country's outline last, over the provinces' dashes.
  const OFFLINE_ORDER = ['land', 'lakes', 'provinces', 'rivers', 'borders', 'outline'];

  function offlineLayer() {
    const source = new ol.source.Vector();
    const layer = new ol.layer.Vector({
      source, style: offlineStyle, declutter: 'offline', updateWhileInteracting: true,
      background: '#d8e6f0',  // the sea
      renderOrder: (a, b) => OFFLINE_ORDER.indexOf(a.get('layer')) -
        OFFLINE_ORDER.indexOf(b.get('layer')),
    });
    layer.set('base', OFFLINE);
    if (config.offline) {
      fetch(config.offline).then((r) => {
        if (!r.ok) throw new Error(r.statusText);
        return r.json();
      }).then((topology) => {
        const format = new ol.format.TopoJSON({ layerName: 'layer' });
        source.addFeatures(format.readFeatures(topology, { featureProjection: projection }));
        source.setAttributions((topology.metadata || {}).attribution);
        layer.set('loaded', true);
      }).catch(() => layer.set('loaded', false));  // the graticule still gives a sense of place
    }
    return layer;
  }

  // ---- online bases --------------------------------------------------------------------------

  function providerLayer(base) {
    const group = new ol.layer.Group({
      layers: base.layers.map((url) => new ol.layer.Tile({
        source: new ol.source.XYZ({
          url, projection, maxZoom: base.maxZoom, attributions: base.attribution,
          // The origin only: tile services check it (Tianditu's key whitelist, OSM's policy);
          // the page's own address, and the token in its fragment, never leave.
          referrerPolicy: 'strict-origin',
        }),
      })),
    });
    group.set('base', base.id);
    return group;
  }

  // A provider that loads nothing (no network, a wrong key) leaves the offline base showing,
  // and says so beside the switch.
  function watchProvider(group, map) {
    let loaded = 0;
    let failed = 0;
    for (const layer of group.getLayers().getArray()) {
      const source = layer.getSource();
      source.on('tileloadend', () => { loaded += 1; });
      source.on('tileloaderror', () => {
        failed += 1;
        if (!loaded && failed >= 4 && group.getVisible()) {
          map.getTargetElement().dataset.baseFailed = group.get('base');
          const note = map.getTargetElement().querySelector('.basemap-switch .note');
          if (note) note.hidden = false;
        }
      });
    }
  }

  function chosenBase() {
    const ids = config.bases.map((b) => b.id);
    const saved = localStorage.getItem(BASE_KEY);
    return saved === OFFLINE || ids.includes(saved) ? saved : ids[0] || OFFLINE;
  }

  function showBase(map, id) {
    for (const layer of map.getLayers().getArray()) {
      const base = layer.get('base');
      if (base && base !== OFFLINE) layer.setVisible(base === id);
    }
    const element = map.getTargetElement();
    element.dataset.base = id;
    delete element.dataset.baseFailed;
    const note = element.querySelector('.basemap-switch .note');
    if (note) note.hidden = true;
  }

  // A select in the map's corner: each configured base, and the offline base alone.
  function switchControl(map) {
    const box = document.createElement('div');
    box.className = 'basemap-switch ol-unselectable ol-control';
    const label = document.createElement('label');
    label.textContent = '底图 Base ';
    const select = document.createElement('select');
    for (const base of config.bases.concat([{ id: OFFLINE, name: '离线 Offline' }])) {
      select.append(new Option(base.name, base.id));
    }
    select.value = chosenBase();
    select.addEventListener('change', () => {
      localStorage.setItem(BASE_KEY, select.value);
      for (const each of maps) {
        showBase(each, select.value);
        const other = each.getTargetElement().querySelector('.basemap-switch select');
        if (other) other.value = select.value;
      }
    });
    label.append(select);
    const note = document.createElement('span');
    note.className = 'note';
    note.hidden = true;
    note.textContent = '无法加载，显示离线底图 Unreachable: offline base shown';
    box.append(label, note);
    return new ol.control.Control({ element: box });
  }

  // ---- the map -------------------------------------------------------------------------------

  // The base layers, a graticule, then `overlays`; OpenLayers draws on Canvas 2D, so it also
  // draws in a headless browser without a GPU.
  function createMap(target, options = {}) {
    const element = typeof target === 'string' ? document.getElementById(target) : target;
    const providers = config.bases.map(providerLayer);
    const graticule = new ol.layer.Graticule({
      strokeStyle: new ol.style.Stroke({ color: 'rgba(70,90,110,0.18)', width: 1 }),
      showLabels: true, wrapX: false, lonLabelPosition: 0.06,  // clear of the scale line
    });
    // Below this width the credits would cover the scale line: they fold behind an (i).
    const small = element.clientWidth < 900;
    const map = new ol.Map({
      target: element,
      layers: [offlineLayer(), ...providers, graticule, ...(options.overlays || [])],
      view: new ol.View({
        projection, center: fromLonLat(options.center || [104.5, 35.5]),
        zoom: options.zoom ?? 4, maxZoom: 19,
      }),
      controls: ol.control.defaults.defaults({ attribution: false }).extend([
        new ol.control.ScaleLine(),
        new ol.control.Attribution({ collapsible: true, collapsed: small }),
      ]),
    });
    element.dataset.frame = config.frame;
    for (const group of providers) watchProvider(group, map);
    if (providers.length) map.addControl(switchControl(map));
    showBase(map, chosenBase());
    maps.push(map);
    return map;
  }

  window.fieldappBasemap = {
    config, projection, maps, createMap, fromLonLat, toLonLat, toLonLatExtent, toServerExtent,
    geoJSON,
  };
})();
