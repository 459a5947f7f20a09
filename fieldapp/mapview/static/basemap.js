// The one map component of the map page and the staff console: the base layers and the
// map itself, so that a base map added here serves both pages.
(function () {
  'use strict';

  // The optional XYZ base map, then a graticule: without a base map it still gives a
  // sense of place and scale.
  function baseLayers(tileUrl) {
    const layers = [];
    if (tileUrl) layers.push(new ol.layer.Tile({ source: new ol.source.XYZ({ url: tileUrl }) }));
    layers.push(new ol.layer.Graticule({
      strokeStyle: new ol.style.Stroke({ color: 'rgba(70,90,110,0.18)', width: 1 }),
      showLabels: true, wrapX: false, lonLabelPosition: 0.06,  // clear of the scale line
    }));
    return layers;
  }

  // A map on `target` with the base layers under `overlays`; OpenLayers draws on Canvas 2D,
  // so it also draws in a headless browser without a GPU.
  function createMap(target, options = {}) {
    const tileUrl = options.tileUrl || '';
    return new ol.Map({
      target,
      layers: baseLayers(tileUrl).concat(options.overlays || []),
      view: new ol.View({
        center: ol.proj.fromLonLat(options.center || [104.5, 35.5]),
        zoom: options.zoom ?? 4, maxZoom: 19,
      }),
      controls: ol.control.defaults.defaults({ attribution: !!tileUrl })
        .extend([new ol.control.ScaleLine()]),
    });
  }

  window.fieldappBasemap = { baseLayers, createMap };
})();
