// WGS-84 ⇄ GCJ-02 in the browser: the same formulas, constants and iterative inverse as
// fieldapp/geo/coordinates.py, so an overlay lands where the server would put it (a test
// runs both on the same points). Longitude and latitude in decimal degrees; outside the
// rough box of China GCJ-02 is WGS-84.
(function (root) {
  'use strict';

  // Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
  const A = 6378245.0;
  const EE = 0.00669342162296594323;
  // The fixed-point inverse contracts by about 1e-3 a step: a handful of steps reach 1e-10°.
  const TOLERANCE = 1e-10;
  const MAX_ITERATIONS = 30;

  function outOfChina(lon, lat) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function rawLat(x, y) {
    let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2 / 3;
    r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2 / 3;
    r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320.0 * Math.sin(y * Math.PI / 30.0)) * 2 / 3;
    return r;
  }

  function rawLon(x, y) {
    let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2 / 3;
    r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2 / 3;
    r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2 / 3;
    return r;
  }

  function forward(lon, lat) {
    let dLat = rawLat(lon - 105.0, lat - 35.0);
    let dLon = rawLon(lon - 105.0, lat - 35.0);
    const radLat = lat / 180.0 * Math.PI;
    const magic = 1 - EE * Math.sin(radLat) ** 2;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
    dLon = (dLon * 180.0) / (A / sqrtMagic * Math.cos(radLat) * Math.PI);
    return [lon + dLon, lat + dLat];
  }

  /** WGS-84 [lon, lat] to GCJ-02 [lon, lat]. */
  function wgs84ToGcj02(lon, lat) {
    return outOfChina(lon, lat) ? [lon, lat] : forward(lon, lat);
  }

  /** GCJ-02 [lon, lat] to WGS-84 [lon, lat], solved iteratively (GCJ-02 has no closed inverse). */
  function gcj02ToWgs84(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    let x = lon;
    let y = lat;
    for (let i = 0; i < MAX_ITERATIONS; i += 1) {
      const [gotLon, gotLat] = forward(x, y);
      const errLon = gotLon - lon;
      const errLat = gotLat - lat;
      x -= errLon;
      y -= errLat;
      if (Math.abs(errLon) < TOLERANCE && Math.abs(errLat) < TOLERANCE) break;
    }
    return [x, y];
  }

  const api = { outOfChina, wgs84ToGcj02, gcj02ToWgs84 };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.fieldappGcj02 = api;
})(this);
