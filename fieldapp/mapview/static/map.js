// The coordinators' map: hex bins, site risk, candidate hulls and report tiles.
// OpenLayers draws on Canvas 2D, so the page also draws in a headless browser without a GPU.
(function () {
  'use strict';

  const API = '/api/v1';
  const TOKEN_KEY = 'fieldapp.token';
  const LAYER_NAMES = ['hexbins', 'sites', 'candidates', 'reports'];
  const LABELS = {
    hexbins: '六边形 Hex bins', sites: '风险 Risk', candidates: '疑似 Candidates',
    reports: '举报 Reports',
  };
  const CATEGORY_COLOURS = {
    water: '#1e73be', air: '#7b5ea7', soil: '#8d5b2d', solid_waste: '#6b7d1e',
    noise: '#00897b', other: '#6d6d6d',
  };
  const CATEGORY_NAMES = {
    water: '水 Water', air: '大气 Air', soil: '土壤 Soil', solid_waste: '固体废物 Solid waste',
    noise: '噪声 Noise', other: '其他 Other',
  };
  const REFRESH_MS = 5 * 60 * 1000;  // a wall display stays current without anyone touching it
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    counts: {}, totals: {}, loads: {}, hexMax: 1, selected: null, blobUrls: [],
    pendingSite: null, refreshTimer: null, reportTiles: new Map(),
  };

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // Every data request carries the token; errors keep the API's own message.
  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: 'Bearer ' + state.token }, options.headers);
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
      throw new ApiError(response.status, message);
    }
    return response;
  }

  function showMessage(text) {
    const box = $('message');
    box.textContent = text || '';
    box.hidden = !text;
  }

  function handleError(err, what) {
    if (err.name === 'AbortError') return;
    if (err.status === 401) {
      forgetToken();
      showSignIn('登录已过期，请重新登录。Your session has ended; please sign in again.');
    } else if (err.status === 403) {
      showMessage('此账户无权查看地图数据（仅限协调员、律师和管理员）。' +
        'This account may not see map data: coordinators, lawyers and admins only.');
    } else {
      showMessage(`暂时无法加载${LABELS[what] ? ' ' + LABELS[what] : ''}。` +
        `Could not load ${what}: ${err.message || 'network error'}. 移动地图即可重试 ` +
        'Moving the map tries again.');
    }
  }

  // ---- sign-in ---------------------------------------------------------------------------

  // A wall display opens (or is sent to) /map#token=...&lon=..&lat=..&zoom=..&site=..
  // Returns whether the fragment brought a token.
  function applyFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get('token');
    if (token) {
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      params.delete('token');
      // Out of the address bar and the back button's entries, where anyone passing could
      // read it (the browser's own history list keeps the address as it was opened).
      const rest = params.toString();
      history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    }
    const view = map.getView();
    const lon = parseFloat(params.get('lon'));
    const lat = parseFloat(params.get('lat'));
    const zoom = parseFloat(params.get('zoom'));
    if (Number.isFinite(lon) && Number.isFinite(lat)) {
      view.setCenter(fieldappBasemap.fromLonLat([lon, lat]));
    }
    if (Number.isFinite(zoom)) view.setZoom(zoom);
    state.pendingSite = params.get('site');
    return Boolean(token);
  }

  function forgetToken() {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(state.refreshTimer);
    for (const controller of Object.values(state.loads)) controller.abort();
    for (const source of [hexSource, siteSource, candidateSource]) source.clear();
    state.counts = {};
    state.totals = {};
    state.reportTiles.clear();
    applyVisibility();  // no data left behind the sign-in form
    closePanel();
    $('ranking').replaceChildren();
    $('user').textContent = '';
    $('signout').hidden = true;
    $('walllink').hidden = true;
    $('wall').hidden = true;
    $('wall-url').value = '';
    updateStatus();
  }

  function showSignIn(reason) {
    document.body.dataset.state = 'signin';
    $('signin').hidden = false;
    const error = $('signin-error');
    error.textContent = reason || '';
    error.hidden = !reason;
    $('email').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const error = $('signin-error');
    error.hidden = true;
    try {
      const response = await fetch(API + '/auth/token', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: $('email').value.trim(), password: $('password').value }),
      });
      if (!response.ok) {
        const failure = new ApiError(response.status, response.statusText);
        failure.retryAfter = parseInt(response.headers.get('Retry-After'), 10);
        throw failure;
      }
      state.token = (await response.json()).token;
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $('password').value = '';
      start();
    } catch (err) {
      const minutes = Math.max(1, Math.ceil((err.retryAfter || 60) / 60));
      error.textContent = err.status === 401
        ? '邮箱或密码不正确。Wrong email or password.'
        : err.status === 429
          ? `失败次数过多，请 ${minutes} 分钟后再试。Too many failed sign-ins; try again in ${minutes} min.`
          : err.status === 403
            ? '此账户已停用，请联系管理员。This account is disabled; ask an admin.'
            : err.status === 422
          ? '请填写邮箱和密码。Please enter an email and a password.'
          : '暂时无法登录，请稍后再试。Signing in failed; please try again shortly.';
      error.hidden = false;
    }
  }

  async function signOut() {
    // Revoke on the server too: a token left in a shared browser's storage is a key left out.
    try { await api(API + '/auth/token', { method: 'DELETE' }); } catch (e) { /* gone already */ }
    forgetToken();
    showMessage('');
    showSignIn();
  }

  // A wall display gets a read-only token of its own that expires soon, never the staff
  // member's token: the screen hangs in a room where anyone can read its address.
  async function makeWallLink() {
    try {
      const response = await api(API + '/auth/read-token', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
      });
      const issued = await response.json();
      const [lon, lat] = fieldappBasemap.toLonLat(map.getView().getCenter());
      const params = new URLSearchParams({
        token: issued.token, lon: lon.toFixed(5), lat: lat.toFixed(5), zoom: String(viewZoom()),
      });
      $('wall-url').value = location.origin + location.pathname + '#' + params.toString();
      $('wall-expiry').textContent =
        '有效至 Valid until ' + new Date(issued.expires_at).toLocaleString();
      $('wall').hidden = false;
      $('wall-url').select();
    } catch (err) {
      handleError(err, 'wall display link');
    }
  }

  function closeWallLink(event) {
    event.preventDefault();
    $('wall').hidden = true;
    $('wall-url').value = '';  // the token is not left in the page
  }

  async function start() {
    $('signin').hidden = true;
    try {
      const me = await (await api(API + '/auth/me')).json();
      $('user').textContent = `${me.display_name || me.email} · ${me.role}`;
      $('signout').hidden = false;
      // Only a full token may make a wall link; a wall display's own token is read-only.
      $('walllink').hidden = me.token_scope !== 'full';
    } catch (err) {
      handleError(err, 'account');
      return;
    }
    document.body.dataset.state = 'ready';
    showMessage('');
    applyVisibility();
    reloadAll();
    clearInterval(state.refreshTimer);
    state.refreshTimer = setInterval(reloadAll, REFRESH_MS);
  }

  // ---- filters and requests --------------------------------------------------------------

  // Dates are days in China; the API wants RFC 3339 with an offset.
  function windowArgs() {
    const args = {};
    const category = $('category').value;
    if (category) args.category = category;
    if ($('from').value) args.from = $('from').value + 'T00:00:00+08:00';
    if ($('to').value) args.to = $('to').value + 'T23:59:59+08:00';
    return args;
  }

  function query(args) {
    const text = new URLSearchParams(args).toString();  // encodes '+' of the offsets
    return text ? '?' + text : '';
  }

  function viewBbox() {
    const [w, s, e, n] = fieldappBasemap.toLonLatExtent(
      map.getView().calculateExtent(map.getSize()));
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(5);
    return [clamp(w, -180, 180), clamp(s, -85, 85), clamp(e, -180, 180), clamp(n, -85, 85)]
      .join(',');
  }

  function viewZoom() {
    return Math.max(0, Math.min(22, Math.round(map.getView().getZoom())));
  }

  // One request per layer in flight: a newer view aborts the older one.
  async function loadGeoJSON(name, source, url, after) {
    if (state.loads[name]) state.loads[name].abort();
    const controller = new AbortController();
    state.loads[name] = controller;
    try {
      const data = await (await api(url, { signal: controller.signal })).json();
      const features = geojson.readFeatures(data);
      if (after) after(features, data);
      source.clear();
      source.addFeatures(features);
      state.counts[name] = features.length;
      state.totals[name] = data.numberMatched;
      updateStatus();
    } catch (err) {
      handleError(err, name);
    }
  }

  function loadHexbins() {
    if (!layers.hexbins.getVisible()) return;
    const args = Object.assign({ bbox: viewBbox(), zoom: viewZoom() }, windowArgs());
    loadGeoJSON('hexbins', hexSource, API + '/hotspots/hexbins' + query(args), (features) => {
      // Relative to the view, but a view of single reports should not look alarming.
      state.hexMax = Math.max(5, ...features.map((f) => f.get('count') || 0));
    });
  }

  function loadSites() {
    if (!layers.sites.getVisible()) return;
    const args = { order: 'risk', format: 'geojson', page_size: 500, bbox: viewBbox() };
    loadGeoJSON('sites', siteSource, API + '/sites' + query(args)).then(openPendingSite);
  }

  // Candidates have no bbox: they are computed over all unlinked reports, so load them
  // when the filters change, not on every move.
  function loadCandidates() {
    if (!layers.candidates.getVisible()) return;
    const { from, to } = windowArgs();
    const args = Object.assign({ format: 'geojson' }, from && { from }, to && { to });
    loadGeoJSON('candidates', candidateSource, API + '/hotspots/candidates' + query(args));
  }

  function reportTileUrl() {
    return '/tiles/reports/{z}/{x}/{y}.mvt' + query(windowArgs());
  }

  async function loadRanking() {
    try {
      const page = await (await api(API + '/sites' + query({ order: 'risk', page_size: 10 })))
        .json();
      const list = $('ranking');
      list.replaceChildren(...page.items.map((site) => {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.innerHTML = '<span class="name"></span><span class="score"></span>';
        button.querySelector('.name').textContent = site.name;
        const score = button.querySelector('.score');
        score.textContent = formatScore(site.risk.score);
        score.style.background = riskColour(site.risk.score);
        button.addEventListener('click', () => focusSite(site));
        item.append(button);
        return item;
      }));
      if (!page.items.length) list.innerHTML = '<li class="empty">暂无站点 No sites yet</li>';
    } catch (err) {
      handleError(err, 'ranking');
    }
  }

  function filtersValid() {
    const { from, to } = windowArgs();
    if (from && to && from > to) {
      showMessage('开始日期晚于结束日期。The start date is after the end date.');
      return false;
    }
    return true;
  }

  function reloadView() {
    if (!state.token || !filtersValid()) return;
    loadHexbins();
    loadSites();
  }

  // What the category and time window apply to (sites' risk has no window).
  function reloadFiltered() {
    if (!state.token || !filtersValid()) return;
    showMessage('');
    onMoveEnd();  // the view's layers, in one debounced load with any move under way
    loadCandidates();
    reportSource.setUrl(reportTileUrl());
    reportSource.refresh();  // same filters: new reports since; others: a clean slate
  }

  function reloadAll() {
    reloadFiltered();
    if (state.token) loadRanking();
  }

  let moveTimer = null;
  function onMoveEnd() {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(reloadView, 300);  // a drag or wheel spin is one reload, not ten
  }

  // ---- the status line: features drawn per layer, also in body[data-features] for tests ---

  // Features of the loaded report tiles (at the zoom and filters shown) inside the view.
  // Counted from our own record of tiles: the layer's cache also holds the previous
  // filters' tiles for a while, which would be counted twice.
  function countReports() {
    const view = map.getView();
    // The tiles' features are in the server's frame (WGS-84 Web Mercator), whatever the base.
    const extent = fieldappBasemap.toServerExtent(view.calculateExtent(map.getSize()));
    const grid = reportSource.getTileGrid();
    const z = grid.getZForResolution(view.getResolution(), reportSource.zDirection);
    const urlOf = reportSource.getTileUrlFunction();
    let count = 0;
    grid.forEachTileCoord(extent, z, (coord) => {
      for (const feature of state.reportTiles.get(urlOf(coord, 1, view.getProjection())) || []) {
        if (ol.extent.intersects(extent, feature.getGeometry().getExtent())) count += 1;
      }
    });
    return count;
  }

  function updateStatus() {
    if (layers.reports.getVisible() && map.getSize()) {
      state.counts.reports = map.getView().getZoom() >= layers.reports.getMinZoom()
        ? countReports() : 0;
    }
    const counts = {};
    for (const name of LAYER_NAMES) {
      counts[name] = layers[name].getVisible() ? (state.counts[name] || 0) : 0;
    }
    document.body.dataset.features = JSON.stringify(counts);
    $('status').replaceChildren(...LAYER_NAMES.map((name) => {
      const span = document.createElement('span');
      span.dataset.layer = name;
      span.dataset.count = counts[name];
      const total = state.totals[name];
      const more = total && total > counts[name] ? ` / ${total}` : '';
      span.textContent = `${LABELS[name]}: ${layers[name].getVisible() ? counts[name] + more : '—'}`;
      return span;
    }));
  }

  // ---- styles ----------------------------------------------------------------------------

  function mix(a, b, t) {
    return a.map((v, i) => Math.round(v + (b[i] - v) * t));
  }

  // Green → amber → red; the score is unbounded, so it is read on a log scale.
  function riskColour(score, alpha = 1) {
    const t = Math.min(1, Math.log1p(Math.max(0, score)) / Math.log1p(20));
    const rgb = t < 0.5 ? mix([67, 160, 71], [251, 192, 45], t * 2)
      : mix([251, 192, 45], [211, 47, 47], (t - 0.5) * 2);
    return `rgba(${rgb.join(',')},${alpha})`;
  }

  // Times come in UTC; coordinators read days in China.
  function chinaDay(iso) {
    return iso ? new Date(iso).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }) : '';
  }

  function chinaTime(iso) {
    return iso ? new Date(iso).toLocaleString('sv-SE', { timeZone: 'Asia/Shanghai' }) : '';
  }

  function formatScore(score) {
    return score >= 10 ? score.toFixed(0) : score.toFixed(1);
  }

  function hexStyle(feature) {
    const t = Math.log1p(feature.get('count')) / Math.log1p(state.hexMax);
    const rgb = t < 0.5 ? mix([255, 237, 160], [253, 141, 60], t * 2)
      : mix([253, 141, 60], [189, 0, 38], (t - 0.5) * 2);
    return new ol.style.Style({
      fill: new ol.style.Fill({ color: `rgba(${rgb.join(',')},0.6)` }),
      stroke: new ol.style.Stroke({ color: 'rgba(255,255,255,0.8)', width: 1 }),
    });
  }

  function siteStyle(feature, resolution) {
    const risk = feature.get('risk') || { score: 0 };
    const t = Math.min(1, Math.log1p(risk.score) / Math.log1p(20));
    const selected = feature.getId() === state.selected;
    const marker = new ol.style.Style({
      image: new ol.style.Circle({
        radius: 6 + 10 * t,
        fill: new ol.style.Fill({ color: riskColour(risk.score, 0.9) }),
        stroke: new ol.style.Stroke({ color: selected ? '#111' : '#fff', width: selected ? 3 : 2 }),
      }),
      text: resolution < 300 ? new ol.style.Text({
        text: feature.get('name'), font: '600 12px sans-serif', offsetY: 16 + 10 * t,
        fill: new ol.style.Fill({ color: '#1d2733' }),
        stroke: new ol.style.Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
      }) : undefined,
      zIndex: Math.round(t * 100),
    });
    if (feature.getGeometry().getType() === 'Point') return marker;
    // A footprint is drawn as itself, with the marker at a point inside it.
    marker.setGeometry((f) => markerPoint(f.getGeometry()));
    return [new ol.style.Style({
      fill: new ol.style.Fill({ color: riskColour(risk.score, 0.2) }),
      stroke: new ol.style.Stroke({ color: riskColour(risk.score), width: 2 }),
    }), marker];
  }

  function markerPoint(geometry) {
    switch (geometry.getType()) {
      case 'Polygon': return geometry.getInteriorPoint();
      case 'MultiPolygon': return geometry.getInteriorPoints().getPoint(0);
      // The hull of reports in a line is a line, of reports in one spot a point.
      default: return new ol.geom.Point(ol.extent.getCenter(geometry.getExtent()));
    }
  }

  // A cluster of a few reports has a hull too small to see: a ring marks it at every zoom.
  function candidateStyle(feature, resolution) {
    const stroke = new ol.style.Stroke({ color: '#7b1fa2', width: 2, lineDash: [5, 3] });
    return [
      new ol.style.Style({ fill: new ol.style.Fill({ color: 'rgba(123,31,162,0.08)' }), stroke }),
      new ol.style.Style({
        geometry: (f) => markerPoint(f.getGeometry()),
        image: new ol.style.Circle({ radius: 14, stroke }),
        text: resolution < 300 ? new ol.style.Text({
          text: `疑似 Candidate ×${feature.get('report_count')}`, font: '600 11px sans-serif',
          textAlign: 'left', offsetX: 18, fill: new ol.style.Fill({ color: '#4a148c' }),
          stroke: new ol.style.Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }),
        }) : undefined,
      }),
    ];
  }

  // Below the tiles' point zoom a report tile holds hexagon centres with a count; from it on,
  // reports, each with its id (and a count too: the reports drawn at its pixel).
  const isReport = (feature) => Boolean(feature.get('id'));

  // declutterMode 'none': OpenLayers 10 hit-detects an image style on a vector tile layer
  // that does not declutter only when its mode is 'none' (it passes the renderer an empty
  // list of decluttered features), so without it no report dot could be clicked.
  function reportStyle(feature) {
    if (!isReport(feature)) {
      return new ol.style.Style({
        image: new ol.style.Circle({
          radius: 3 + 2 * Math.sqrt(feature.get('count') || 1), declutterMode: 'none',
          fill: new ol.style.Fill({ color: 'rgba(30,115,190,0.35)' }),
          stroke: new ol.style.Stroke({ color: '#1e73be', width: 1 }),
        }),
      });
    }
    const colour = CATEGORY_COLOURS[feature.get('category')] || CATEGORY_COLOURS.other;
    const verified = feature.get('verified') === true || feature.get('verified') === 'true';
    return new ol.style.Style({
      image: new ol.style.Circle({
        radius: 4, declutterMode: 'none',
        fill: new ol.style.Fill({ color: verified ? colour : '#fff' }),
        stroke: new ol.style.Stroke({ color: verified ? '#fff' : colour, width: 1.5 }),
      }),
    });
  }

  // ---- the side panel --------------------------------------------------------------------

  const COMPONENTS = [
    ['evidence', '证据 Evidence'], ['verified_photos', '已核实照片 Verified photos'],
    ['distinct_volunteers', '志愿者人数 Distinct volunteers'],
    ['volunteer_factor', '志愿者系数 Volunteer factor'], ['open_cases', '进行中案件 Open cases'],
    ['cases', '案件加分 Cases'],
  ];
  const STATUS_LABELS = { active: '运行中 Active', closed: '已关闭 Closed' };

  function closePanel() {
    for (const url of state.blobUrls) URL.revokeObjectURL(url);
    state.blobUrls = [];
    state.selected = null;
    $('panel').hidden = true;
    $('panel').replaceChildren();
    layers.sites.changed();
  }

  function row(list, label, value) {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = label;
    dd.textContent = value === null || value === undefined || value === '' ? '—' : value;
    list.append(dt, dd);
  }

  function number(value) {
    return typeof value === 'number' ? String(Math.round(value * 100) / 100) : value;
  }

  function openPanel(title, subtitle) {
    closePanel();
    const panel = $('panel');
    panel.innerHTML = '<button type="button" class="close" aria-label="关闭 Close">×</button>' +
      '<h2></h2><p class="sub"></p>';
    panel.querySelector('h2').textContent = title;
    panel.querySelector('.sub').textContent = subtitle || '';
    panel.querySelector('.close').addEventListener('click', closePanel);
    panel.hidden = false;
    return panel;
  }

  function showSite(site) {
    const panel = openPanel(site.name, site.name_en);
    state.selected = site.id;
    panel.dataset.site = site.id;
    layers.sites.changed();
    const about = document.createElement('dl');
    about.className = 'about';
    row(about, '运营方 Operator', site.operator);
    row(about, '状态 Status', STATUS_LABELS[site.status] || site.status);
    const risk = site.risk;
    const badge = document.createElement('p');
    badge.className = 'badge';
    badge.textContent = '风险 Risk ' + (risk ? formatScore(risk.score) : '—');
    if (risk) badge.style.background = riskColour(risk.score);
    const facts = document.createElement('dl');
    facts.className = 'numbers';
    if (risk) {
      for (const [key, label] of COMPONENTS) row(facts, label, number(risk[key]));
      const group = document.createElement('dt');
      group.className = 'group';
      group.textContent = '按类别 By category';
      facts.append(group);
      for (const [category, value] of Object.entries(risk.by_category || {})) {
        row(facts, `· ${CATEGORY_NAMES[category] || category}`, number(value));
      }
    }
    const photos = document.createElement('div');
    photos.className = 'thumbs';
    photos.innerHTML = '<h3>最新照片 <span>Latest photos</span></h3>';
    panel.append(about, badge, facts, photos);
    loadThumbnails(site.id, photos);
  }

  // Thumbnails need the bearer token, which an <img src> cannot send: fetch, then a blob: URL.
  async function loadThumbnails(siteId, box) {
    try {
      const page = await (await api(`${API}/sites/${siteId}/reports?page_size=5`)).json();
      const photos = page.items.flatMap((report) =>
        report.photos.map((photo) => ({ photo, report })));
      if (!photos.length) {
        box.insertAdjacentHTML('beforeend', '<p class="empty">暂无照片 No photos yet</p>');
        return;
      }
      await Promise.all(photos.map(async ({ photo, report }) => {
        const figure = document.createElement('figure');
        const img = document.createElement('img');
        img.alt = `${report.category} ${chinaDay(report.observed_at)}`;
        const caption = document.createElement('figcaption');
        caption.textContent = `${chinaDay(report.observed_at)} · ` +
          `${CATEGORY_NAMES[report.category] || report.category} · ${photo.verdict}`;
        figure.append(img, caption);
        box.append(figure);
        try {
          const blob = await (await api(photo.links.thumbnail)).blob();
          if (state.selected !== siteId) return;  // another site was opened meanwhile
          const url = URL.createObjectURL(blob);
          state.blobUrls.push(url);
          img.src = url;
        } catch (err) {
          if (err.status === 401) throw err;
          figure.classList.add('missing');
          caption.textContent = '无法显示 Unavailable';
        }
      }));
    } catch (err) {
      handleError(err, 'photos');
    }
  }

  function showCandidate(feature) {
    const panel = openPanel('疑似排放点 Candidate site', '附近没有已知站点的举报聚集 ' +
      'Reports clustered where no site is known');
    const facts = document.createElement('dl');
    row(facts, '举报数 Reports', feature.get('report_count'));
    row(facts, '类别 Categories', (feature.get('categories') || [])
      .map((c) => CATEGORY_NAMES[c] || c).join(', '));
    row(facts, '最早 First', chinaDay(feature.get('first_observed')));
    row(facts, '最近 Latest', chinaDay(feature.get('last_observed')));
    panel.append(facts);
  }

  function showReport(feature) {
    const panel = openPanel('举报 Report', feature.get('id'));
    const facts = document.createElement('dl');
    row(facts, '类别 Category', CATEGORY_NAMES[feature.get('category')]);
    row(facts, '观察日期 Observed (UTC day)', feature.get('observed_on'));
    row(facts, '核查 Verdict', feature.get('verdict'));
    if (feature.get('count') > 1) {
      row(facts, '同一像素的举报 Reports at this pixel', feature.get('count'));
    }
    panel.append(facts);
  }

  function showHexbin(feature) {
    const panel = openPanel('六边形 Hex bin', feature.get('cell'));
    const facts = document.createElement('dl');
    row(facts, '举报数 Reports', feature.get('count'));
    panel.append(facts);
  }

  function siteFromFeature(feature) {
    return Object.assign({ id: feature.getId() }, feature.getProperties());
  }

  function focusSite(site) {
    const extent = geojson.readGeometry(site.geometry).getExtent();
    map.getView().fit(extent, { maxZoom: 14, padding: [80, 80, 80, 80], duration: 400 });
    showSite(site);
  }

  // #site=<id> opens that site once the sites of the view have arrived (they carry the risk).
  async function openPendingSite() {
    const id = state.pendingSite;
    if (!id) return;
    state.pendingSite = null;
    const feature = siteSource.getFeatureById(id);
    if (feature) { showSite(siteFromFeature(feature)); return; }
    try {
      focusSite(await (await api(`${API}/sites/${encodeURIComponent(id)}`)).json());
    } catch (err) {
      handleError(err, 'site');
    }
  }

  function onClick(event) {
    const hit = {};
    map.forEachFeatureAtPixel(event.pixel, (feature, layer) => {
      for (const name of LAYER_NAMES) if (layer === layers[name] && !hit[name]) hit[name] = feature;
    }, { hitTolerance: 4 });
    if (hit.sites) showSite(siteFromFeature(hit.sites));
    else if (hit.candidates) showCandidate(hit.candidates);
    else if (hit.reports && isReport(hit.reports)) showReport(hit.reports);
    else if (hit.hexbins) showHexbin(hit.hexbins);
    else closePanel();
  }

  // ---- the map ---------------------------------------------------------------------------

  // Overlays come in WGS-84 and are drawn in the base map's frame (shifted on a GCJ-02 base).
  const geojson = fieldappBasemap.geoJSON();
  const hexSource = new ol.source.Vector();
  const siteSource = new ol.source.Vector();
  const candidateSource = new ol.source.Vector();
  const reportSource = new ol.source.VectorTile({
    format: new ol.format.MVT(),
    maxZoom: 15,  // points from the server's point zoom on; deeper views reuse those tiles
    // A tile request must carry the token, so OpenLayers' own loader cannot be used.
    tileLoadFunction: (tile, url) => {
      tile.setLoader((extent, resolution, projection) => {
        if (!state.token) { tile.setFeatures([]); return; }
        api(url).then((response) => response.arrayBuffer()).then((data) => {
          const features = tile.getFormat().readFeatures(data, {
            extent, featureProjection: projection,
          });
          tile.setFeatures(features);
          state.reportTiles.set(url, features);
          if (state.reportTiles.size > 1000) {  // oldest first: a Map keeps insertion order
            state.reportTiles.delete(state.reportTiles.keys().next().value);
          }
        }).catch((err) => {
          tile.setState(3);  // ol/TileState.ERROR
          handleError(err, 'reports');
        });
      });
    },
  });

  const layers = {
    hexbins: new ol.layer.Vector({ source: hexSource, style: hexStyle }),
    candidates: new ol.layer.Vector({ source: candidateSource, style: candidateStyle }),
    reports: new ol.layer.VectorTile({ source: reportSource, style: reportStyle, minZoom: 7 }),
    sites: new ol.layer.Vector({ source: siteSource, style: siteStyle }),
  };

  // Base layers and controls come from the component the staff console shares.
  const map = fieldappBasemap.createMap('map', {
    overlays: LAYER_NAMES.filter((n) => n !== 'sites').map((n) => layers[n]).concat(
      [layers.sites]),
  });

  map.on('moveend', onMoveEnd);
  // Draw a resized window at once: a headless capture resizes and shoots in the same frame.
  window.addEventListener('resize', () => { map.updateSize(); map.renderSync(); });
  map.on('rendercomplete', updateStatus);
  map.on('singleclick', onClick);
  // What a click opens shows a pointing hand: a site, a candidate or a report's dot.
  const clickable = new Set([layers.sites, layers.candidates, layers.reports]);
  map.on('pointermove', (event) => {
    const over = map.hasFeatureAtPixel(event.pixel, { layerFilter: (layer) => clickable.has(layer) });
    map.getTargetElement().style.cursor = over ? 'pointer' : '';
  });

  // A layer shows when its box is ticked and someone is signed in.
  function applyVisibility() {
    for (const box of document.querySelectorAll('.toggles input')) {
      layers[box.dataset.layer].setVisible(box.checked && Boolean(state.token));
    }
  }

  for (const box of document.querySelectorAll('.toggles input')) {
    box.addEventListener('change', () => {
      const name = box.dataset.layer;
      applyVisibility();
      if (box.checked && name === 'hexbins') loadHexbins();
      if (box.checked && name === 'sites') loadSites();
      if (box.checked && name === 'candidates') loadCandidates();
      updateStatus();
    });
  }
  $('filters').addEventListener('change', reloadFiltered);
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('walllink').addEventListener('click', makeWallLink);
  $('wall-form').addEventListener('submit', closeWallLink);

  window.addEventListener('hashchange', () => {
    if (applyFragment()) start(); else if (state.token) openPendingSite();
  });

  applyFragment();
  applyVisibility();
  reportSource.setUrl(reportTileUrl());
  updateStatus();
  if (state.token) start(); else showSignIn();
})();
