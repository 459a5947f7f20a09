// The staff console: one page, one route per hash (#/queue, #/sites/<id>, #/cases/<id>, ...).
// Every request carries the bearer token from sessionStorage, as on the map page; images are
// fetched with it and shown from blob: URLs, since an <img src> cannot send a header.

const API = '/api/v1';
const TOKEN_KEY = 'fieldapp.token';
const LANG_KEY = 'fieldapp.lang';
const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

// Every label in both languages: [中文, English].
const TEXT = {
  title: ['工作台', 'Staff console'], skip: ['跳到内容', 'Skip to content'],
  nav_queue: ['审核队列', 'Review queue'], nav_sites: ['站点', 'Sites'], nav_cases: ['案件', 'Cases'],
  nav_users: ['用户', 'Users'], nav_map: ['地图', 'Map'], signout: ['退出', 'Sign out'],
  signin: ['登录', 'Sign in'], signin_hint: ['协调员、律师和管理员', 'For coordinators, lawyers and admins'],
  email: ['邮箱', 'Email'], password: ['密码', 'Password'], all: ['全部', 'All'],
  site: ['站点', 'Site'], verdict: ['核查结论', 'Verdict'], category: ['类别', 'Category'],
  from: ['从', 'From'], to: ['到', 'To'], volunteer: ['志愿者化名', 'Volunteer pseudonym'],
  order: ['排序', 'Order'], order_worst: ['问题最多优先', 'Worst first'],
  order_newest: ['最新优先', 'Newest first'],
  verdict_consistent: ['一致', 'consistent'], verdict_needs_review: ['需复核', 'needs review'],
  verdict_inconsistent: ['不一致', 'inconsistent'],
  bulk_accept: ['接受所选', 'Accept selected'], bulk_needs: ['所选需补充', 'Selected: needs more'],
  bulk_reject: ['拒绝所选', 'Reject selected'],
  keys: ['快捷键：j/k 下一张/上一张，x 选择，a 接受，r 拒绝（先填理由），n 需补充',
    'Keys: j/k next/previous, x select, a accept, r reject (reason first), n needs more'],
  claim: ['举报声称', 'Claimed'], exif: ['照片 EXIF', 'Photo EXIF'], checks: ['检查项', 'Checks'],
  receipt: ['接收凭证', 'Receipt'], custody_show: ['保管链', 'Custody chain'],
  reason: ['理由（拒绝时必填）', 'Reason (required to reject)'],
  accept: ['接受 (a)', 'Accept (a)'], needs_more: ['需补充 (n)', 'Needs more (n)'],
  reject: ['拒绝 (r)', 'Reject (r)'], search: ['搜索', 'Search'], name: ['名称', 'Name'],
  operator: ['运营方', 'Operator'], status: ['状态', 'Status'], risk: ['风险', 'Risk'],
  risk_components: ['风险构成', 'Risk components'], complaints: ['投诉', 'Complaints'],
  timeline: ['时间线', 'Timeline'], case_title: ['标题', 'Title'],
  legal_status: ['法律状态', 'Legal status'], items: ['证据', 'Evidence items'],
  updated: ['更新', 'Updated'], case_new: ['新建案件', 'New case'], authority: ['机关', 'Authority'],
  create: ['创建', 'Create'], add_evidence: ['从站点已核实照片添加证据', 'Add evidence from the site\'s verified photos'],
  picker_hint: ['选择一张照片，填写证据名称与证明目的', 'Pick a photo, then give its title and what it proves'],
  item_title: ['证据名称', 'Title'], purpose: ['证明目的', 'What it proves'], add: ['添加', 'Add'],
  close: ['关闭', 'Close'], dossiers: ['证据包', 'Dossiers'], freeze: ['冻结为证据包', 'Freeze a dossier'],
  date: ['日期', 'Date'], entry: ['事项', 'Entry'], verify_title: ['给法庭的核验说明', 'Verification instructions for the court'],
  display_name: ['名称', 'Name'], pseudonym: ['化名', 'Pseudonym'], role: ['角色', 'Role'],
  user_new: ['新建用户', 'New user'], role_volunteer: ['志愿者', 'volunteer'],
  role_coordinator: ['协调员', 'coordinator'], role_lawyer: ['律师', 'lawyer'], role_admin: ['管理员', 'admin'],
  enabled: ['启用', 'enabled'], disabled: ['已停用', 'disabled'], disable: ['停用', 'Disable'],
  enable: ['启用', 'Enable'], up: ['上移', 'Move up'], down: ['下移', 'Move down'],
  remove: ['移除', 'Remove'], download: ['下载', 'Download'], none: ['暂无', 'None yet'],
  queue_empty: ['没有待审照片', 'No photos waiting'], waiting: ['张待审', 'waiting'],
  distance: ['声称位置与照片 GPS 相距', 'Claimed point to photo GPS'], no_gps: ['照片无 GPS', 'The photo has no GPS'],
  observed: ['观察时间', 'Observed'], taken: ['拍摄时间', 'Taken'], location: ['位置', 'Location'],
  device: ['设备', 'Device'], software: ['软件', 'Software'], description: ['描述', 'Description'],
  reason_needed: ['拒绝需要填写理由。', 'A reason is required to reject.'],
  frozen: ['已冻结', 'frozen'], failed: ['失败', 'failed'], freezing: ['冻结中', 'freezing'],
  step_queued: ['排队中', 'queued'], step_analysis: ['分析照片', 'analysing photos'],
  step_previews: ['生成预览', 'making previews'], step_catalog: ['生成证据目录', 'making the catalog'],
  step_frozen: ['完成', 'done'], wrong_password: ['邮箱或密码不正确。', 'Wrong email or password.'],
  signin_failed: ['暂时无法登录，请稍后再试。', 'Signing in failed; please try again shortly.'],
  too_many: ['失败次数过多，请稍后再试。', 'Too many failed sign-ins; try again later.'],
  account_disabled: ['此账户已停用。', 'This account is disabled.'],
  expired: ['登录已过期，请重新登录。', 'Your session has ended; please sign in again.'],
  staff_only: ['工作台仅供协调员、律师和管理员使用。', 'The console is for coordinators, lawyers and admins.'],
  not_allowed: ['此账户无权执行该操作。', 'This account may not do that.'],
  saved: ['已保存', 'Saved'], no_photos: ['此站点暂无已核实照片', 'No verified photos at this site'],
  evidence: ['证据值', 'Evidence'], verified_photos: ['已核实照片', 'Verified photos'],
  distinct_volunteers: ['志愿者人数', 'Distinct volunteers'], volunteer_factor: ['志愿者系数', 'Volunteer factor'],
  open_cases: ['进行中案件', 'Open cases'], cases: ['案件加分', 'Cases'], score: ['风险分', 'Score'],
  overdue_only: ['只看逾期未答复', 'Overdue only'], channel: ['渠道', 'Channel'],
  number: ['编号', 'Number'], filed: ['提交日期', 'Filed'], deadlines: ['期限', 'Deadlines'],
  complaint_new: ['登记投诉', 'Record a complaint'], summary: ['内容', 'Summary'],
  channel_12345: ['12345 热线', '12345 hotline'], channel_12369: ['12369 环保举报', '12369 hotline'],
  channel_national_platform: ['全国生态环境信访投诉举报管理平台', 'National complaint platform'],
  channel_local_bureau: ['地方生态环境局', 'Local bureau'], channel_other: ['其他', 'Other'],
  overdue: ['逾期', 'overdue'], acceptance: ['受理', 'acceptance'], result: ['办结', 'result'],
  record: ['记录', 'Record'], packet: ['投诉信 PDF', 'Letter PDF'], update_text: ['答复/理由', 'Reply / reason'],
  days: ['天数', 'Days'],
  case_number: ['案号', 'Case number'], save: ['保存', 'Save'], on_map: ['在地图上查看', 'See on the map'],
  included_rejected: ['（已拒绝，特意纳入）', '(rejected, included on purpose)'],
  open: ['打开', 'Open'], cite_reports: ['引用的举报', 'Reports cited'],
  cite_hint: ['从此站点的举报中选择（可多选）；提交后不可更改，之后的证据以补充证据记录',
    'Pick from this site\'s reports (several at once); fixed once filed, later evidence is sent as further evidence'],
  chosen: ['已选', 'chosen'], no_reports: ['此站点暂无举报', 'No reports at this site'],
  cited_as_filed: ['提交时引用的举报', 'Reports cited as filed'],
  cited_fixed: ['投诉信引用这些举报：提交后不可更改。之后发给机关的证据记为补充证据。',
    'The letter cites these reports: they cannot change once filed. Evidence sent later is recorded as further evidence.'],
  further_evidence: ['补充证据', 'Further evidence'],
  supplement_open: ['补充证据（选择此站点的其他举报）', 'Send further evidence (other reports of this site)'],
  supplement_hint: ['选择本投诉尚未引用的举报（可多选）', 'Pick reports this complaint does not cite yet (several at once)'],
  sent_on: ['发送日期', 'Sent on'], supplement_note: ['说明', 'Note'],
  record_update: ['记录机关的处理进展', 'Record what the authority did'],
  update_kind: ['事项', 'What'], occurred_on: ['日期', 'On'],
  reply_text: ['机关答复原文', 'The authority\'s reply, as received'], outcome: ['处理结果', 'Outcome'],
  penalty_number: ['处罚决定书文号', 'Penalty decision number'], reason_text: ['理由/说明', 'Reason / note'],
  updates: ['进展', 'Updates'], next_allowed: ['下一步可为', 'Can become next'],
  nothing_follows: ['已办结，不再变化', 'Closed: nothing follows'],
  not_recorded: ['未记录：', 'Not recorded: '], pick_some: ['请至少选择一份举报。', 'Pick at least one report.'],
  extension: ['延期', 'extension'], reports_n: ['份举报', 'report(s)'], days_unit: ['天', 'days'],
  acceptance_due: ['受理期限', 'Acceptance due'], result_due: ['办结期限', 'Result due'],
  last_day: ['最后一日', 'last day'], answered: ['已答复', 'answered'], late: ['逾期', 'late'],
  lapsed: ['逾期未答复', 'lapsed with no answer'], not_due: ['未到期', 'not yet due'],
  status_filed: ['已提交', 'filed'], status_accepted: ['已受理', 'accepted'],
  status_rejected: ['不予受理', 'rejected'], status_investigating: ['调查处理中', 'investigating'],
  status_replied: ['已答复', 'replied'], status_closed: ['已办结', 'closed'],
  kind_extended: ['延期办理', 'extended'], kind_supplemented: ['补充证据', 'further evidence'],
  kind_note: ['备注', 'note'],
  more: ['加载更多', 'Load more'], loaded: ['已载入', 'Loaded'],
  none_these_days: ['这些日期没有观察记录', 'Nothing observed on these days'],
};

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  lang: localStorage.getItem(LANG_KEY) || (navigator.language.startsWith('zh') ? 'zh' : 'en'),
  me: null, blobUrls: [], maps: {},
  queue: { items: [], index: -1, selected: new Set(), page: 1, total: 0 },
  caseData: null, pickerPhoto: null, poll: null, complaint: null, citing: [], pickers: new Map(),
};

const t = (key) => (TEXT[key] ? TEXT[key][state.lang === 'zh' ? 0 : 1] : key);

class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + state.token }, options.headers);
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    options = Object.assign({}, options, { body: JSON.stringify(options.json) });
  }
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, (body && body.message) || response.statusText, body);
  }
  return response;
}

const getJSON = async (path) => (await api(path)).json();

function query(args) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of [].concat(value)) params.append(key, one);
  }
  const text = params.toString();
  return text ? '?' + text : '';
}

// ---- small DOM helpers ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role') node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function showMessage(text, kind = 'error') {
  const box = $('message');
  box.textContent = text || '';
  box.dataset.kind = kind;
  box.hidden = !text;
}

function handleError(err) {
  if (err.status === 401) {
    forgetToken();
    showSignIn(t('expired'));
  } else if (err.status === 403) {
    showMessage(t('not_allowed') + ' ' + err.message);
  } else {
    const fields = err.body && err.body.errors ? ' ' + JSON.stringify(err.body.errors) : '';
    showMessage((err.message || 'network error') + fields);
  }
}

const chinaTime = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', {
  timeZone: 'Asia/Shanghai', hour12: false }) : '—');
const chinaDay = (iso) => (iso ? new Date(iso).toLocaleDateString('sv-SE', {
  timeZone: 'Asia/Shanghai' }) : '—');
const categoryName = (c) => {
  const option = document.querySelector(`#q-category option[value="${c}"]`);
  return option ? option.textContent : c;
};

// Images need the token: fetched, then shown from a blob: URL revoked when the page changes.
async function loadImage(img, url) {
  try {
    const blob = await (await api(url)).blob();
    const objectUrl = URL.createObjectURL(blob);
    state.blobUrls.push(objectUrl);
    img.src = objectUrl;
    img.dataset.loaded = 'true';
  } catch (err) {
    if (err.status === 401) { handleError(err); return; }
    img.alt = err.message;
    img.dataset.loaded = 'error';
  }
}

function releaseImages() {
  for (const url of state.blobUrls) URL.revokeObjectURL(url);
  state.blobUrls = [];
}

// ---- language --------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  $('lang').textContent = state.lang === 'zh' ? 'English' : '中文';
  document.title = `${t('title')} · fieldapp`;
  // The verification text is written in both languages; show the one chosen.
  for (const block of document.querySelectorAll('#verify-help > div[lang]')) {
    block.hidden = !block.lang.startsWith(state.lang);
  }
}

function toggleLanguage() {
  state.lang = state.lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem(LANG_KEY, state.lang);
  applyLanguage();
  route();
}

// ---- sign-in ---------------------------------------------------------------------------

// /console#token=... signs in like the map page's wall links; the token then leaves the
// address bar and the back button's entries, where anyone passing could read it. The
// browser's own history list keeps the address as it was opened: no page can erase that.
function applyFragment() {
  const hash = location.hash.slice(1);
  if (!hash.startsWith('token=') && !hash.includes('&token=')) return false;
  const params = new URLSearchParams(hash);
  state.token = params.get('token');
  sessionStorage.setItem(TOKEN_KEY, state.token);
  history.replaceState(null, '', location.pathname + location.search);
  return true;
}

function forgetToken() {
  state.token = null;
  state.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.poll);
  releaseImages();
  for (const page of document.querySelectorAll('.page')) page.hidden = true;
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('user').textContent = '';
}

function showSignIn(reason) {
  document.body.dataset.state = 'signin';
  $('signin').hidden = false;
  $('signin-error').textContent = reason || '';
  $('signin-error').hidden = !reason;
  $('email').focus();
}

async function signIn(event) {
  event.preventDefault();
  $('signin-error').hidden = true;
  const response = await fetch(API + '/auth/token', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: $('email').value.trim(), password: $('password').value }),
  }).catch(() => null);
  if (!response || !response.ok) {
    const status = response ? response.status : 0;
    $('signin-error').textContent = t(status === 401 ? 'wrong_password' : status === 429
      ? 'too_many' : status === 403 ? 'account_disabled' : 'signin_failed');
    $('signin-error').hidden = false;
    return;
  }
  state.token = (await response.json()).token;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('password').value = '';
  start();
}

async function signOut() {
  // Revoked on the server too: a token left in a shared browser's storage is a key left out.
  try { await api(API + '/auth/token', { method: 'DELETE' }); } catch (e) { /* gone already */ }
  forgetToken();
  // What was shown (users, photos' details, complaints) stays in the hidden pages otherwise,
  // for the next person at a shared computer: a fresh page holds none of it.
  location.replace(location.pathname);
}

const LANDING = { coordinator: '#/queue', lawyer: '#/cases', admin: '#/users' };

async function start() {
  $('signin').hidden = true;
  try {
    state.me = await getJSON(API + '/auth/me');
  } catch (err) {
    handleError(err);
    return;
  }
  if (!LANDING[state.me.role]) {
    forgetToken();
    showSignIn(t('staff_only'));
    return;
  }
  $('user').textContent = `${state.me.display_name || state.me.email} · ${t('role_' + state.me.role)}`;
  $('signout').hidden = false;
  for (const link of document.querySelectorAll('#nav [data-roles]')) {
    link.hidden = !link.dataset.roles.split(' ').includes(state.me.role);
  }
  $('nav').hidden = false;
  document.body.dataset.role = state.me.role;
  showMessage('');
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', LANDING[state.me.role]);
  route();
}

// ---- routing ---------------------------------------------------------------------------

const ROUTES = [
  [/^#\/queue$/, 'queue', showQueue], [/^#\/sites$/, 'sites', showSites],
  [/^#\/sites\/([0-9a-f-]{36})$/, 'site', showSite], [/^#\/cases$/, 'cases', showCases],
  [/^#\/cases\/([0-9a-f-]{36})$/, 'case', showCase], [/^#\/users$/, 'users', showUsers],
  [/^#\/complaints$/, 'complaints', showComplaints],
  [/^#\/complaints\/([0-9a-f-]{36})$/, 'complaint', showComplaint],
];

function route() {
  if (!state.me) return;
  const found = ROUTES.find(([pattern]) => pattern.test(location.hash));
  if (!found) { location.hash = LANDING[state.me.role]; return; }
  const [pattern, name, show] = found;
  releaseImages();
  clearTimeout(state.poll);
  for (const page of document.querySelectorAll('.page')) page.hidden = page.id !== 'page-' + name;
  for (const link of document.querySelectorAll('#nav a[data-nav]')) {
    const current = name.startsWith(link.dataset.nav.replace(/s$/, ''));
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  document.body.dataset.page = name;
  document.body.dataset.state = 'loading';
  showMessage('');
  Promise.resolve(show(...location.hash.match(pattern).slice(1)))
    .then(() => {
      if (document.body.dataset.page !== name) return;
      document.body.dataset.state = 'ready';
      // A keyboard user who followed a link goes on from the page's content, not the bar.
      const from = document.activeElement;
      if (!from || from === document.body || from.closest('#nav, .list')) {
        $('main').focus({ preventScroll: true });
      }
    })
    .catch(handleError);
}

// ---- the shared map component, with points and shapes on top ---------------------------

// Points and shapes come in WGS-84 and are drawn in the base map's frame (shifted on GCJ-02).
const geojson = fieldappBasemap.geoJSON();

function pointStyle(colour, radius = 6) {
  return new ol.style.Style({
    image: new ol.style.Circle({ radius, fill: new ol.style.Fill({ color: colour }),
      stroke: new ol.style.Stroke({ color: '#fff', width: 2 }) }),
    stroke: new ol.style.Stroke({ color: colour, width: 2, lineDash: [6, 4] }),
    fill: new ol.style.Fill({ color: 'rgba(200,60,40,0.15)' }),
  });
}

// One map per box, made once and reused: its layer of features is replaced each time.
function drawMap(target, features, maxZoom = 16) {
  let entry = state.maps[target];
  if (!entry) {
    const source = new ol.source.Vector();
    const map = fieldappBasemap.createMap(target, {
      overlays: [new ol.layer.Vector({ source, style: (f) => f.get('style') })],
    });
    entry = state.maps[target] = { map, source };
  }
  entry.source.clear();
  entry.source.addFeatures(features);
  entry.map.updateSize();
  if (features.length) {
    entry.map.getView().fit(entry.source.getExtent(), { padding: [40, 40, 40, 40], maxZoom });
  }
  return entry.map;
}

function pointFeature(lon, lat, colour, label) {
  const feature = new ol.Feature(new ol.geom.Point(fieldappBasemap.fromLonLat([lon, lat])));
  const style = pointStyle(colour);
  if (label) {
    style.setText(new ol.style.Text({ text: label, offsetY: -14, font: '600 12px sans-serif',
      fill: new ol.style.Fill({ color: '#1d2733' }),
      stroke: new ol.style.Stroke({ color: 'rgba(255,255,255,0.9)', width: 3 }) }));
  }
  feature.set('style', style);
  return feature;
}

// Great-circle distance in metres (WGS-84 mean radius): what a coordinator compares with
// the claim's stated accuracy.
function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

// ---- the evidence picker: photos for a case's items, reports for a complaint --------------

const chinaMinute = (iso) => (iso ? new Date(iso).toLocaleString('sv-SE', {
  timeZone: 'Asia/Shanghai', hour12: false }).slice(0, 16) : '—');

// What the picker shows of a photo (a case's item) or of a report (cited by a complaint):
// its preview, when it was observed, its category and its verdict.
function evidenceChoice(report, photo) {
  const shown = photo || report.photos.find((p) => !p.analysis_error) || report.photos[0];
  const verdict = photo ? photo.verdict : report.verdict;
  const caption = `${chinaMinute(report.observed_at)} · ${categoryName(report.category)}`;
  return { id: photo ? photo.id : report.id, photo, report, verdict, caption,
    label: `${caption} · ${t('verdict_' + verdict)}`,
    thumbnail: shown && !shown.analysis_error ? shown.links.thumbnail : null };
}

// One picker for the case page and the complaint pages: previews in a grid, each a button
// that the keyboard reaches and presses (Enter or Space). With `multiple` each press adds or
// takes away one (aria-pressed); without, a press picks that one alone. `chosen` (id ->
// choice) may outlive the list, so that what was picked stays picked when the list is
// drawn again; onPick gets every chosen one. add() puts more choices at the list's end.
function renderPicker(list, choices, { multiple = false, empty, onPick, chosen = new Map() }) {
  const press = (choice) => {
    if (multiple && chosen.has(choice.id)) chosen.delete(choice.id);
    else { if (!multiple) chosen.clear(); chosen.set(choice.id, choice); }
    for (const button of list.querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(chosen.has(button.dataset.choice)));
    }
    onPick([...chosen.values()]);
  };
  const item = (choice) => {
    const img = el('img', { alt: '' });
    if (choice.thumbnail) loadImage(img, choice.thumbnail);
    return el('li', {}, el('button', { type: 'button', 'data-choice': choice.id,
      'aria-pressed': String(chosen.has(choice.id)), 'aria-label': choice.label,
      on: { click: () => press(choice) } },
    img, el('span', { text: choice.caption }),
    el('span', { className: 'badge ' + choice.verdict, text: t('verdict_' + choice.verdict) })));
  };
  const add = (more) => {
    for (const none of list.querySelectorAll('li.empty')) none.remove();
    list.append(...more.map(item));
    if (!list.querySelector('button')) list.append(el('li', { className: 'empty', text: t(empty) }));
  };
  list.replaceChildren();
  add(choices);
  return { add };
}

// A day's first or last second in China, as the API's time; '' for no day.
const dayBound = (day, end) => (day ? day + (end ? 'T23:59:59+08:00' : 'T00:00:00+08:00') : '');

const PICKER_PAGE = 100;

// A picker over one of the API's paged lists (a site's verified photos or its reports), so
// that all of it is within reach: the first page at once, the next each time "Load more" is
// pressed, and From/To days (China time) that narrow it to what was observed then, from its
// first page again. What was chosen stays chosen meanwhile; `keep` leaves out, on every
// page, what may not be picked again (already an item, already cited). Resolves once the
// first page is shown.
function pagedPicker(list, { path, args = {}, keep = () => true, toChoice, empty, ...options }) {
  const controls = pickerControls(list);
  const chosen = new Map();
  const pager = { asked: 0, page: 0, loaded: 0, total: 0, picker: null, shown: new Set() };
  // A page is an offset into a list that may grow meanwhile (newest first): what a page
  // shifted by a newcomer brings again is not shown twice.
  const unseen = (choice) => !pager.shown.has(choice.id) && pager.shown.add(choice.id);
  pager.load = async (next) => {
    const asked = ++pager.asked;
    const page = next ? pager.page + 1 : 1;
    const filtered = Boolean(controls.from.value || controls.to.value);
    controls.more.disabled = true;
    if (!next) {
      list.replaceChildren();
      controls.more.hidden = true;
      controls.count.textContent = '';
    }
    const answer = await getJSON(path + query({ ...args,
      observed_from: dayBound(controls.from.value, false),
      observed_to: dayBound(controls.to.value, true), page, page_size: PICKER_PAGE }));
    if (controls.pager !== pager || asked !== pager.asked) return [];  // a newer load follows
    if (!next) pager.shown.clear();
    const choices = answer.items.filter(keep).map(toChoice).filter(unseen);
    if (next) pager.picker.add(choices);
    else {
      pager.picker = renderPicker(list, choices, { ...options, chosen,
        empty: filtered ? 'none_these_days' : empty });
    }
    pager.page = page;
    pager.loaded = (page - 1) * PICKER_PAGE + answer.items.length;
    pager.total = answer.total;
    controls.more.disabled = false;
    controls.more.hidden = pager.loaded >= pager.total;
    controls.count.textContent = pager.total ? `${t('loaded')} ${pager.loaded} / ${pager.total}` : '';
    return choices;
  };
  controls.pager = pager;
  return pager.load(false);
}

// The From and To days above a picker's list and "Load more" below it, made once for each
// list; they act on the list's newest pagedPicker.
function pickerControls(list) {
  const made = state.pickers.get(list);
  if (made) return made;
  const controls = {};
  const reload = () => controls.pager.load(false).catch(handleError);
  const day = (key) => el('label', {}, el('span', { 'data-i18n': key, text: t(key) }),
    controls[key] = el('input', { type: 'date', id: `${list.id}-${key}`, on: { change: reload,
      // The days are applied as they change; Enter in a form would send the form.
      keydown: (e) => { if (e.key === 'Enter') e.preventDefault(); } } }));
  list.before(el('div', { className: 'filters days' },
    el('span', { 'data-i18n': 'observed', text: t('observed') }), day('from'), day('to')));
  controls.more = el('button', { type: 'button', id: `${list.id}-more`, hidden: true,
    'aria-controls': list.id, 'data-i18n': 'more', text: t('more'),
    on: { click: () => moreChoices(list, controls).catch(handleError) } });
  controls.count = el('span', { role: 'status' });
  list.after(el('p', { className: 'more' }, controls.more, ' ', controls.count));
  state.pickers.set(list, controls);
  return controls;
}

// The next page; the keyboard goes on from the first choice it brought.
async function moreChoices(list, controls) {
  const added = await controls.pager.load(true);
  const first = added.length && list.querySelector(`button[data-choice="${added[0].id}"]`);
  const last = list.querySelector('li:last-child button');
  if (first) first.focus();
  else if (controls.more.hidden && last) last.focus();
}

// ---- the review queue ------------------------------------------------------------------

function queueArgs() {
  return {
    review: 'pending', site_id: $('q-site').value, verdict: $('q-verdict').value,
    category: $('q-category').value, volunteer: $('q-volunteer').value.trim(),
    observed_from: dayBound($('q-from').value, false), observed_to: dayBound($('q-to').value, true),
    order: $('q-order').value, page_size: 50,
  };
}

async function fillSiteSelect(select, keepFirst) {
  const page = await getJSON(API + '/sites' + query({ page_size: 500 }));
  const first = keepFirst ? [select.options[0]] : [];
  select.replaceChildren(...first, ...page.items.map((site) =>
    el('option', { value: site.id, text: site.name })));
}

async function showQueue() {
  if ($('q-site').options.length <= 1) await fillSiteSelect($('q-site'), true);
  await loadQueue();
}

async function loadQueue() {
  const page = await getJSON(API + '/photos' + query(queueArgs()));
  const queue = state.queue;
  queue.items = page.items;
  queue.total = page.total;
  queue.selected.clear();
  renderQueue();
  selectPhoto(queue.items.length ? 0 : -1);
}

function renderQueue() {
  const queue = state.queue;
  $('queue-count').textContent = queue.total ? `${queue.total} ${t('waiting')}` : t('queue_empty');
  $('queue-items').replaceChildren(...queue.items.map((photo, index) => {
    const report = photo.report;
    const box = el('input', { type: 'checkbox', checked: queue.selected.has(photo.id),
      'aria-label': `${t('site')} ${index + 1}`, tabIndex: -1,
      on: { change: () => toggleSelected(photo.id) } });
    const img = el('img', { alt: '' });
    const item = el('li', { 'data-photo': photo.id, 'data-verdict': photo.verdict,
      className: index === queue.index ? 'current' : '' },
    box,
    el('button', { type: 'button', className: 'pick', on: { click: () => selectPhoto(index) } },
      img,
      el('span', { className: 'what', text: `${categoryName(report.category)} · ${chinaDay(report.observed_at)}` }),
      el('span', { className: 'badge ' + photo.verdict, text: t('verdict_' + photo.verdict) }),
      el('span', { className: 'by', text: report.volunteer })));
    if (photo.analysis_error === null || photo.analysis_error === undefined) {
      loadImage(img, photo.links.thumbnail);
    }
    return item;
  }));
  updateBulk();
}

function toggleSelected(id) {
  const selected = state.queue.selected;
  if (selected.has(id)) selected.delete(id); else selected.add(id);
  const box = document.querySelector(`#queue-items li[data-photo="${id}"] input`);
  if (box) box.checked = selected.has(id);
  updateBulk();
}

function updateBulk() {
  const none = state.queue.selected.size === 0;
  for (const id of ['bulk-accept', 'bulk-needs', 'bulk-reject']) $(id).disabled = none;
}

function selectPhoto(index) {
  const queue = state.queue;
  queue.index = index;
  for (const [i, item] of [...$('queue-items').children].entries()) {
    item.classList.toggle('current', i === index);
    if (i === index) item.scrollIntoView({ block: 'nearest' });
  }
  const photo = queue.items[index];
  $('review').hidden = !photo;
  if (!photo) { document.body.dataset.reviewing = ''; return; }
  document.body.dataset.reviewing = photo.id;
  renderReview(photo);
}

function renderReview(photo) {
  const report = photo.report;
  const claim = report.location.claim;
  const wgs = report.location.wgs84;
  const exif = photo.exif || {};
  const gps = exif.gps;
  $('r-preview').removeAttribute('src');
  $('r-preview').alt = `${categoryName(report.category)} ${chinaDay(report.observed_at)}`;
  loadImage($('r-preview'), photo.links.preview);
  const rows = [
    [t('observed') + ' / ' + t('taken'), chinaTime(report.observed_at),
      exif.datetime_original ? `${exif.datetime_original} ${exif.offset_time_original || ''}` : '—'],
    [t('location'), `${claim.lon.toFixed(6)}, ${claim.lat.toFixed(6)} (${claim.crs}` +
      `${claim.accuracy_m ? ', ±' + claim.accuracy_m + ' m' : ''})`,
    gps ? `${gps.lon.toFixed(6)}, ${gps.lat.toFixed(6)} (wgs84)` : t('no_gps')],
    [t('volunteer') + ' / ' + t('device'), report.volunteer, [exif.make, exif.model].filter(Boolean).join(' ') || '—'],
    [t('software'), '—', exif.software || exif.creator_tool || '—'],
    [t('category') + ' / ' + t('description'), `${categoryName(report.category)}: ${report.description || ''}`, ''],
  ];
  $('r-compare').replaceChildren(...rows.map(([label, left, right]) =>
    el('tr', {}, el('th', { text: label }), el('td', { text: left }), el('td', { text: right }))));
  const features = [pointFeature(wgs.lon, wgs.lat, '#1e73be', t('claim'))];
  if (gps) {
    features.push(pointFeature(gps.lon, gps.lat, '#c0392b', 'GPS'));
    const line = new ol.Feature(new ol.geom.LineString([
      fieldappBasemap.fromLonLat([wgs.lon, wgs.lat]), fieldappBasemap.fromLonLat([gps.lon, gps.lat])]));
    line.set('style', pointStyle('#c0392b'));
    features.push(line);
    const metres = distanceM(wgs, gps);
    $('r-distance').textContent = `${t('distance')}: ${metres < 1000 ? Math.round(metres) + ' m'
      : (metres / 1000).toFixed(2) + ' km'}`;
    $('r-distance').dataset.metres = String(Math.round(metres));
  } else {
    $('r-distance').textContent = t('no_gps');
    delete $('r-distance').dataset.metres;
  }
  drawMap('r-map', features);
  $('r-checks').replaceChildren(...photo.checks.map((check) => el('tr', { className: check.result },
    el('th', { text: check.name }), el('td', { className: 'result', text: check.result }),
    el('td', { text: check.detail || '' }))));
  $('r-receipt').textContent = photo.receipt.custody_hash;
  $('r-custody').hidden = true;
  $('r-custody').replaceChildren();
  $('r-reason').value = '';
}

async function showCustody() {
  const photo = state.queue.items[state.queue.index];
  if (!photo) return;
  try {
    const events = await getJSON(`${API}/photos/${photo.id}/custody`);
    $('r-custody').replaceChildren(...events.map((event) => el('li', {},
      el('strong', { text: `#${event.seq} ${event.action}` }), ` ${chinaTime(event.occurred_at)} `,
      el('code', { text: event.hash }))));
    $('r-custody').hidden = false;
  } catch (err) {
    handleError(err);
  }
}

async function decide(ids, decision, reason) {
  if (decision === 'rejected' && !reason.trim()) {
    showMessage(t('reason_needed'));
    $('r-reason').focus();
    return;
  }
  const done = [];
  for (const id of ids) {
    try {
      await api(`${API}/photos/${id}/reviews`, { method: 'POST', json: { decision, reason } });
      done.push(id);
    } catch (err) {
      handleError(err);
      break;
    }
  }
  dropFromQueue(done);
}

// Decided photos leave the list; the next one is shown, and an empty page loads the next.
function dropFromQueue(ids) {
  if (!ids.length) return;
  const queue = state.queue;
  const gone = new Set(ids);
  const at = Math.max(0, queue.index);
  const before = queue.items.slice(0, at).filter((p) => gone.has(p.id)).length;
  queue.items = queue.items.filter((p) => !gone.has(p.id));
  queue.total = Math.max(0, queue.total - ids.length);
  for (const id of ids) queue.selected.delete(id);
  showMessage('');
  if (!queue.items.length) { loadQueue().catch(handleError); return; }
  renderQueue();
  selectPhoto(Math.min(at - before, queue.items.length - 1));
  // Out of the reason field, so that the next keys are shortcuts again, on the next photo.
  const current = document.querySelector('#queue-items li.current .pick');
  if (current) current.focus({ preventScroll: true });
}

function decideCurrent(decision) {
  const photo = state.queue.items[state.queue.index];
  if (photo) decide([photo.id], decision, $('r-reason').value);
}

function decideSelected(decision) {
  const ids = [...state.queue.selected];
  if (ids.length) decide(ids, decision, $('r-reason').value);
}

function typing(target) {
  return target.closest('input, textarea, select, [contenteditable]');
}

function queueKeys(event) {
  if (document.body.dataset.page !== 'queue' || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target)) {
    if (event.key === 'Escape') event.target.blur();
    return;
  }
  const queue = state.queue;
  const actions = {
    j: () => selectPhoto(Math.min(queue.index + 1, queue.items.length - 1)),
    k: () => selectPhoto(Math.max(queue.index - 1, 0)),
    x: () => { const p = queue.items[queue.index]; if (p) toggleSelected(p.id); },
    a: () => decideCurrent('accepted'),
    n: () => decideCurrent('needs_more'),
    r: () => decideCurrent('rejected'),
  };
  if (actions[event.key] && queue.items.length) {
    event.preventDefault();
    actions[event.key]();
  }
}

// ---- sites -----------------------------------------------------------------------------

const RISK_PARTS = ['score', 'evidence', 'verified_photos', 'distinct_volunteers',
  'volunteer_factor', 'open_cases', 'cases'];
const round = (v) => (typeof v === 'number' ? String(Math.round(v * 100) / 100) : (v ?? '—'));

async function showSites(event) {
  if (event) event.preventDefault();
  const page = await getJSON(API + '/sites' + query({ order: 'risk', page_size: 200, q: $('sites-q').value.trim() }));
  $('sites-rows').replaceChildren(...page.items.map((site) => el('tr', { 'data-site': site.id },
    el('td', {}, el('a', { href: `#/sites/${site.id}`, text: site.name })),
    el('td', { text: site.operator || '—' }), el('td', { text: site.status }),
    el('td', { className: 'num', text: round(site.risk && site.risk.score) }))));
}

async function showSite(id) {
  const site = await getJSON(`${API}/sites/${id}`);
  $('site-name').textContent = site.name + (site.name_en ? ` · ${site.name_en}` : '');
  $('site-about').textContent = [site.operator, site.status].filter(Boolean).join(' · ');
  $('site-on-map').href = `/map#site=${site.id}`;
  // Staff are given the site's risk with the site itself.
  const risk = site.risk;
  const [reports, timeline, cases] = await Promise.all([
    getJSON(`${API}/sites/${id}/reports?page_size=200`),
    getJSON(`${API}/sites/${id}/timeline`), getJSON(`${API}/cases?site_id=${id}`)]);
  $('site-risk').replaceChildren(...(risk ? RISK_PARTS.flatMap((key) =>
    [el('dt', { text: t(key) }), el('dd', { text: round(risk[key]) })]) : [el('dd', { text: '—' })]));
  // The site as a ring (or its footprint) over its reports, which often stand on it.
  const shape = geojson.readFeature({ type: 'Feature', geometry: site.geometry });
  const ring = new ol.style.Stroke({ color: '#c0392b', width: 3 });
  shape.set('style', new ol.style.Style({ stroke: ring,
    fill: new ol.style.Fill({ color: 'rgba(192,57,43,0.12)' }),
    image: new ol.style.Circle({ radius: 12, stroke: ring }), zIndex: 1 }));
  drawMap('site-map', [...reports.items.map((report) => pointFeature(
    report.location.wgs84.lon, report.location.wgs84.lat,
    report.photos.some((p) => p.verdict === 'consistent') ? '#1e73be' : '#9aa7b4')), shape]);
  $('site-map').dataset.reports = String(reports.items.length);
  $('site-cases').replaceChildren(...(cases.length ? cases.map((c) => el('li', {},
    el('a', { href: `#/cases/${c.id}`, text: c.title }), ` · ${c.legal_status}`))
    : [el('li', { className: 'empty', text: t('none') })]));
  $('site-timeline').replaceChildren(...timeline.map((event) => el('li', {},
    el('time', { text: chinaTime(event.at || event.occurred_at || event.date) }), ' ',
    el('span', { text: event.summary || event.kind || event.type || '' }))));
  await showSiteComplaints(id);
}

// Complaints to the authorities appear where their API answers.
async function showSiteComplaints(siteId) {
  try {
    const answer = await getJSON(`${API}/complaints?site_id=${siteId}`);
    const items = Array.isArray(answer) ? answer : answer.items || [];
    $('site-complaints').replaceChildren(...(items.length ? items.map((c) => el('li', {},
      el('a', { href: `#/complaints/${c.id}`, text: `${t('channel_' + c.channel)} ${c.number}` }),
      ` · ${c.authority} · ${statusName(c.status)}`))
      : [el('li', { className: 'empty', text: t('none') })]));
    $('site-complaints-box').hidden = false;
  } catch (err) {
    $('site-complaints-box').hidden = true;
  }
}

// ---- cases -----------------------------------------------------------------------------

async function showCases() {
  const cases = await getJSON(API + '/cases');
  $('cases-rows').replaceChildren(...cases.map((c) => el('tr', { 'data-case': c.id },
    el('td', {}, el('a', { href: `#/cases/${c.id}`, text: c.title })),
    el('td', {}, el('a', { href: `#/sites/${c.site_id}`, text: c.site_name })),
    el('td', { text: c.legal_status }), el('td', { className: 'num', text: c.item_count }),
    el('td', { text: chinaDay(c.updated_at) }))));
  if (!cases.length) $('cases-rows').append(el('tr', {}, el('td', { colSpan: 5, className: 'empty', text: t('none') })));
  await fillSiteSelect($('cn-site'), false);
}

async function createCase(event) {
  event.preventDefault();
  try {
    const made = await (await api(API + '/cases', { method: 'POST', json: {
      site_id: $('cn-site').value, title: $('cn-title').value.trim(),
      authority: $('cn-authority').value.trim() || null } })).json();
    $('cn-title').value = '';
    $('cn-authority').value = '';
    location.hash = `#/cases/${made.id}`;
  } catch (err) {
    handleError(err);
  }
}

const canEditItems = () => ['lawyer', 'admin'].includes(state.me.role);

async function showCase(id) {
  const data = await getJSON(`${API}/cases/${id}`);
  state.caseData = data;
  $('case-title').textContent = data.title;
  $('case-about').replaceChildren(el('a', { href: `#/sites/${data.site_id}`, text: data.site_name }),
    ` · ${data.legal_status}` + (data.authority ? ` · ${data.authority}` : '') +
    (data.case_number ? ` · ${data.case_number}` : ''));
  if (!$('ce-status').options.length) $('ce-status').append($('legal-statuses').content.cloneNode(true));
  $('ce-status').value = data.legal_status;
  $('ce-authority').value = data.authority || '';
  $('ce-number').value = data.case_number || '';
  $('case-timeline').replaceChildren(...data.timeline.map((entry) => el('li', {},
    el('time', { text: entry.date }), ' ', el('span', { text: entry.text }))));
  $('picker').hidden = true;
  $('picker-open').hidden = !canEditItems();
  $('freeze').hidden = !canEditItems();
  $('freeze-progress').hidden = true;
  await Promise.all([renderItems(), canEditItems() ? renderDossiers() : null]);
}

async function renderItems() {
  const id = state.caseData.id;
  const items = await getJSON(`${API}/cases/${id}/items`);
  state.caseData.items = items;
  const edit = canEditItems();
  $('case-items').replaceChildren(...items.map((item, index) => {
    const img = el('img', { alt: item.title });
    loadImage(img, `${API}/photos/${item.photo_id}/thumbnail`);
    const controls = edit ? el('span', { className: 'controls' },
      el('button', { type: 'button', text: '↑', 'aria-label': t('up'), disabled: index === 0,
        on: { click: () => moveItem(index, -1) } }),
      el('button', { type: 'button', text: '↓', 'aria-label': t('down'), disabled: index === items.length - 1,
        on: { click: () => moveItem(index, 1) } }),
      el('button', { type: 'button', text: t('remove'), on: { click: () => removeItem(item.id) } })) : null;
    return el('li', { 'data-item': item.id, 'data-photo': item.photo_id },
      img, el('div', {},
        el('strong', { text: `${item.number}. ${item.title}` }),
        el('p', { text: `${t('purpose')}: ${item.purpose}` }),
        el('p', { className: 'hash', text: `SHA-256 ${item.sha256}` }),
        el('p', { className: 'sub', text: `${t('verdict_' + item.verdict)}` +
          (item.review ? ` · ${item.review}` : '') + (item.include_rejected ? ' ' + t('included_rejected') : '') })),
      controls);
  }));
  if (!items.length) $('case-items').append(el('li', { className: 'empty', text: t('none') }));
}

async function moveItem(index, step) {
  const ids = state.caseData.items.map((item) => item.id);
  [ids[index], ids[index + step]] = [ids[index + step], ids[index]];
  try {
    await api(`${API}/cases/${state.caseData.id}/items/order`, { method: 'PUT', json: { item_ids: ids } });
    await renderItems();
    // Keep the keyboard where it was: on the moved item's same button.
    const moved = document.querySelector(`#case-items li[data-item="${ids[index + step]}"] button[aria-label="${t(step < 0 ? 'up' : 'down')}"]`);
    if (moved && !moved.disabled) moved.focus();
  } catch (err) {
    handleError(err);
  }
}

async function removeItem(itemId) {
  try {
    await api(`${API}/cases/${state.caseData.id}/items/${itemId}`, { method: 'DELETE' });
    await renderItems();
  } catch (err) {
    handleError(err);
  }
}

async function openPicker() {
  $('picker').hidden = false;
  $('picker-form').hidden = true;
  const taken = new Set(state.caseData.items.map((item) => item.photo_id));
  await pagedPicker($('picker-photos'), { path: API + '/photos',
    args: { site_id: state.caseData.site_id, verified: 'true' },
    keep: (photo) => !taken.has(photo.id), toChoice: (photo) => evidenceChoice(photo.report, photo),
    empty: 'no_photos', onPick: ([choice]) => pickPhoto(choice.photo) });
  const first = $('picker-photos').querySelector('button');
  if (first) first.focus();
}

function pickPhoto(photo) {
  state.pickerPhoto = photo;
  $('pk-title').value = `${categoryName(photo.report.category)} ${chinaDay(photo.report.observed_at)}`;
  $('pk-purpose').value = '';
  $('picker-form').hidden = false;
  $('pk-purpose').focus();
}

async function addItem(event) {
  event.preventDefault();
  if (!state.pickerPhoto) return;
  try {
    await api(`${API}/cases/${state.caseData.id}/items`, { method: 'POST', json: {
      photo_id: state.pickerPhoto.id, title: $('pk-title').value.trim(),
      purpose: $('pk-purpose').value.trim() } });
    state.pickerPhoto = null;
    $('picker').hidden = true;
    await renderItems();
    $('picker-open').focus();
  } catch (err) {
    handleError(err);
  }
}

async function saveCase(event) {
  event.preventDefault();
  try {
    await api(`${API}/cases/${state.caseData.id}`, { method: 'PATCH', json: {
      legal_status: $('ce-status').value, authority: $('ce-authority').value.trim() || null,
      case_number: $('ce-number').value.trim() || null } });
    await showCase(state.caseData.id);
    showMessage(t('saved'), 'info');
  } catch (err) {
    handleError(err);
  }
}

async function addEntry(event) {
  event.preventDefault();
  try {
    await api(`${API}/cases/${state.caseData.id}/timeline`, { method: 'POST', json: {
      date: $('en-date').value, text: $('en-text').value.trim() } });
    $('en-text').value = '';
    await showCase(state.caseData.id);
  } catch (err) {
    handleError(err);
  }
}

async function renderDossiers() {
  const dossiers = await getJSON(`${API}/cases/${state.caseData.id}/dossiers`);
  $('dossiers').replaceChildren(...dossiers.map((d) => el('li', { 'data-dossier': d.id, 'data-status': d.status },
    `${d.label || '#' + d.number} · ${t(d.status)}` + (d.error ? ` · ${d.error}` : '') +
    (d.manifest_sha256 ? ` · ${d.manifest_sha256.slice(0, 16)}…` : ''), ' ',
    d.links.download ? el('button', { type: 'button', text: t('download'),
      on: { click: () => download(d) } }) : null)));
  const running = dossiers.find((d) => d.status === 'freezing');
  if (running) followFreeze(running);
}

async function freeze() {
  try {
    const asked = await (await api(`${API}/cases/${state.caseData.id}/dossiers`, { method: 'POST' })).json();
    await renderDossiers();
    followFreeze(asked);
  } catch (err) {
    handleError(err);
  }
}

// The freeze is a background job: its record is read again until it is frozen or failed.
function followFreeze(dossier) {
  clearTimeout(state.poll);
  const caseId = state.caseData.id;
  const show = (d) => {
    $('freeze-progress').hidden = false;
    $('freeze-bar').max = Math.max(1, d.progress.total);
    $('freeze-bar').value = d.progress.done;
    $('freeze-step').textContent = `${t(d.status)} · ${t('step_' + d.progress.step)} ` +
      `${d.progress.done}/${d.progress.total}`;
    $('freeze-progress').dataset.status = d.status;
    $('freeze').disabled = d.status === 'freezing';
  };
  show(dossier);
  const tick = async () => {
    if (!state.caseData || state.caseData.id !== caseId || document.body.dataset.page !== 'case') return;
    try {
      const now = await getJSON(dossier.links.self);
      show(now);
      if (now.status === 'freezing') state.poll = setTimeout(tick, POLL_MS);
      else await renderDossiers();
    } catch (err) {
      handleError(err);
    }
  };
  state.poll = setTimeout(tick, POLL_MS);
}

// Downloads need the token too: read as a blob, handed to the browser as a file.
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function download(dossier) {
  try {
    const blob = await (await api(dossier.links.download)).blob();
    saveBlob(blob, `${dossier.label || 'dossier'}.zip`);
    document.body.dataset.downloaded = dossier.id;
  } catch (err) {
    handleError(err);
  }
}

// ---- complaints to the authorities -------------------------------------------------------

const canFile = () => ['coordinator', 'admin'].includes(state.me.role);
const statusName = (status) => t('status_' + status);
const kindName = (kind) => (TEXT['status_' + kind] ? statusName(kind) : t('kind_' + kind));

function deadlineText(complaint) {
  const d = complaint.deadlines;
  const part = (name) => `${t(name)} ${d[name].last_day}` +
    (d[name].lapsed ? ` (${t('overdue')})` : d[name].met_at ? ' ✓' : '');
  return `${part('acceptance')} · ${part('result')}`;
}

// A day in China as the API's time: today is now (a time later today would be in the
// future); another day is its noon, the same day in every zone.
function dayMoment(day) {
  return day === chinaDay(new Date().toISOString()) ? new Date().toISOString()
    : day + 'T12:00:00+08:00';
}

// What a refused form says beside it: the API's message and the fields it names.
function formError(box, err) {
  if (err.status === 401 || err.status === 403) { handleError(err); return; }
  const fields = err.body && err.body.errors ? Object.entries(err.body.errors)
    .map(([name, said]) => `${TEXT[name] ? t(name) : name}: ${[].concat(said).join(' ')}`) : [];
  box.textContent = t('not_recorded') + [err.message || 'network error', ...fields].join(' · ');
  box.hidden = false;
}

async function showComplaints() {
  await loadComplaints();
  $('complaint-new').hidden = !canFile();
  if (canFile()) {
    await fillSiteSelect($('cf-site'), false);
    await loadCitable();
  }
}

async function loadComplaints() {
  const overdue = $('c-overdue').checked;
  const page = await getJSON(API + '/complaints' + query({ page_size: 200,
    overdue: overdue ? 'true' : '' }));
  if (overdue !== $('c-overdue').checked) return;  // changed meanwhile: a newer load follows
  $('complaints-rows').replaceChildren(...page.items.map((c) => el('tr', { 'data-complaint': c.id,
    'data-status': c.status, 'data-overdue': String(c.overdue), className: c.overdue ? 'overdue' : '' },
  el('td', {}, el('a', { href: `#/sites/${c.site_id}`, text: c.site_name })),
  el('td', { text: t('channel_' + c.channel) }),
  el('td', {}, el('a', { href: `#/complaints/${c.id}`, text: c.number })),
  el('td', { text: c.authority }), el('td', { text: chinaDay(c.filed_at) }),
  el('td', { text: statusName(c.status) }), el('td', { text: deadlineText(c) }),
  el('td', {}, el('button', { type: 'button', text: t('packet'),
    on: { click: () => downloadPacket(c) } })))));
  if (!page.items.length) $('complaints-rows').append(el('tr', {}, el('td', { colSpan: 8, className: 'empty', text: t('none') })));
  $('complaints-rows').dataset.filter = overdue ? 'overdue' : 'all';
}

// The filing form's picker: the chosen site's reports, cited in the order they were observed.
async function loadCitable() {
  state.citing = [];
  const siteId = $('cf-site').value;
  if (!siteId) { $('cf-reports').replaceChildren(); return; }
  await pickReports($('cf-reports'), $('cf-chosen'), siteId);
}

// Several of a site's reports picked for a complaint to cite (state.citing), with how many
// beside; those it cites already are not offered.
function pickReports(list, count, siteId, cited = new Set()) {
  state.citing = [];
  count.textContent = `${t('chosen')} 0`;
  return pagedPicker(list, { path: `${API}/sites/${siteId}/reports`,
    keep: (report) => !cited.has(report.id), toChoice: (report) => evidenceChoice(report),
    multiple: true, empty: 'no_reports',
    onPick: (chosen) => {
      state.citing = chosen.map((choice) => choice.report);
      count.textContent = `${t('chosen')} ${chosen.length}`;
    } });
}

const byObservation = (a, b) => a.observed_at.localeCompare(b.observed_at) || a.id.localeCompare(b.id);

async function fileComplaint(event) {
  event.preventDefault();
  try {
    const made = await (await api(API + '/complaints', { method: 'POST', json: {
      site_id: $('cf-site').value, channel: $('cf-channel').value, number: $('cf-number').value.trim(),
      filed_at: dayMoment($('cf-filed').value), authority: $('cf-authority').value.trim(),
      summary: $('cf-summary').value.trim() || null,
      report_ids: [...state.citing].sort(byObservation).map((report) => report.id) } })).json();
    for (const id of ['cf-number', 'cf-summary']) $(id).value = '';
    location.hash = `#/complaints/${made.id}`;
  } catch (err) {
    handleError(err);
  }
}

// ---- one complaint: what it cites, its deadlines, and what the authority did ------------

async function showComplaint(id) {
  const c = await getJSON(`${API}/complaints/${id}`);
  state.complaint = c;
  $('cp-title').textContent = `${t('channel_' + c.channel)} · ${c.number}`;
  $('cp-about').replaceChildren(...[el('a', { href: `#/sites/${c.site_id}`, text: c.site_name }),
    ` · ${c.authority} · ${t('filed')} ${chinaDay(c.filed_at)} · `,
    el('strong', { id: 'cp-status', 'data-status': c.status, text: statusName(c.status) }),
    c.overdue ? el('span', { className: 'badge inconsistent', text: t('overdue') }) : null]
    .filter(Boolean));
  const d = c.deadlines;
  const deadline = (name) => {
    const one = d[name];
    const standing = one.lapsed ? t('lapsed') : one.met_at
      ? `${t('answered')} ${chinaDay(one.met_at)}${one.late ? ` (${t('late')})` : ''}` : t('not_due');
    const extended = name === 'result' && one.extension_days
      ? ` (${t('extension')} +${one.extension_days} ${t('days_unit')})` : '';
    return el('dd', { className: one.lapsed ? 'lapsed' : '',
      text: `${t('last_day')} ${one.last_day}${extended} · ${standing}` });
  };
  $('cp-facts').replaceChildren(
    el('dt', { text: t('acceptance_due') }), deadline('acceptance'),
    el('dt', { text: t('result_due') }), deadline('result'),
    el('dt', { text: t('summary') }), el('dd', { text: c.summary || '—' }));
  $('cp-next').textContent = c.next_statuses.length
    ? `${t('next_allowed')}: ${c.next_statuses.map(statusName).join(' / ')}` : t('nothing_follows');
  $('cp-update').hidden = !canFile();
  $('cp-supplement-open').hidden = !canFile();
  $('cp-supplement').hidden = true;
  $('cu-error').hidden = true;
  if (!$('cu-kind').options.length) {
    $('cu-kind').append($('update-kinds').content.cloneNode(true));
    // Further evidence is sent with its own picker, beside the reports.
    $('cu-kind').querySelector('option[value="supplemented"]').remove();
  }
  for (const option of $('cu-kind').options) option.textContent = kindName(option.value);
  if (!c.next_statuses.includes($('cu-kind').value)) $('cu-kind').value = c.next_statuses[0] || 'note';
  showUpdateFields();
  $('cu-date').value = chinaDay(new Date().toISOString());
  $('cp-updates').replaceChildren(...(c.updates.length ? c.updates.map((u) => el('li', {
    'data-kind': u.kind }, el('time', { text: chinaDay(u.occurred_at) }), ' ',
  el('strong', { text: kindName(u.kind) }),
  ` ${[u.reply_text, u.outcome, u.penalty_number, u.extension_days ? `+${u.extension_days} ${t('days_unit')}` : null,
    u.reason, u.report_ids ? `${u.report_ids.length} ${t('reports_n')}` : null].filter(Boolean).join(' · ')}`))
    : [el('li', { className: 'empty', text: t('none') })]));
  await renderCited(c);
}

// The reports as filed, then each batch of further evidence under the day it was sent.
async function renderCited(c) {
  const further = c.updates.filter((u) => u.report_ids);
  const ids = [...c.report_ids, ...further.flatMap((u) => u.report_ids)];
  const reports = new Map((await Promise.all(ids.map((reportId) =>
    getJSON(`${API}/reports/${reportId}`)))).map((report) => [report.id, report]));
  const row = (reportId) => {
    const report = reports.get(reportId);
    const choice = evidenceChoice(report);
    const img = el('img', { alt: choice.label });
    if (choice.thumbnail) loadImage(img, choice.thumbnail);
    return el('li', { 'data-report': reportId }, img, el('div', {},
      el('strong', { text: choice.caption }),
      el('p', {}, el('span', { className: 'badge ' + report.verdict, text: t('verdict_' + report.verdict) })),
      el('p', { className: 'hash', text: reportId })));
  };
  $('cp-reports').replaceChildren(...(c.report_ids.length ? c.report_ids.map(row)
    : [el('li', { className: 'empty', text: t('none') })]));
  $('cp-further').replaceChildren(...(further.length ? further.flatMap((u) => [
    el('li', { className: 'when' }, el('time', { text: chinaDay(u.occurred_at) }), u.reason ? ` · ${u.reason}` : ''),
    ...u.report_ids.map(row)]) : [el('li', { className: 'empty', text: t('none') })]));
}

// Only what the chosen kind of update takes is shown.
function showUpdateFields() {
  const kind = $('cu-kind').value;
  for (const label of $('cp-update').querySelectorAll('label[data-for]')) {
    label.hidden = !label.dataset.for.split(' ').includes(kind);
  }
}

// A new status is the one edit of a complaint the API allows (PATCH; what was filed stays as
// filed); an extension or a note is an update beside it. Each is a dated custody event, and
// a move the rules refuse comes back as a 409 whose message is shown beside the form.
async function recordUpdate(event) {
  event.preventDefault();
  const c = state.complaint;
  const kind = $('cu-kind').value;
  const status = !['extended', 'note'].includes(kind);
  const shown = (id) => !$(id).closest('label').hidden && $(id).value.trim() !== '';
  const body = { occurred_at: dayMoment($('cu-date').value) };
  if (shown('cu-reply')) body.reply_text = $('cu-reply').value.trim();
  if (shown('cu-outcome')) body.outcome = $('cu-outcome').value.trim();
  if (shown('cu-penalty')) body.penalty_number = $('cu-penalty').value.trim();
  if (shown('cu-days')) body.extension_days = parseInt($('cu-days').value, 10);
  if (shown('cu-reason')) body.reason = $('cu-reason').value.trim();
  $('cu-error').hidden = true;
  try {
    if (status) {
      await api(`${API}/complaints/${c.id}`, { method: 'PATCH', json: { status: kind, ...body } });
    } else {
      await api(`${API}/complaints/${c.id}/updates`, { method: 'POST', json: { kind, ...body } });
    }
    for (const id of ['cu-reply', 'cu-outcome', 'cu-penalty', 'cu-days', 'cu-reason']) $(id).value = '';
    await showComplaint(c.id);
    showMessage(t('saved'), 'info');
    $('cu-kind').focus();
  } catch (err) {
    formError($('cu-error'), err);
  }
}

async function openSupplement() {
  const c = state.complaint;
  $('cp-supplement').hidden = false;
  $('cs-error').hidden = true;
  $('cs-date').value = chinaDay(new Date().toISOString());
  const cited = new Set([...c.report_ids, ...c.updates.flatMap((u) => u.report_ids || [])]);
  await pickReports($('cp-picker'), $('cp-chosen'), c.site_id, cited);
  const first = $('cp-picker').querySelector('button');
  if (first) first.focus();
}

async function sendSupplement(event) {
  event.preventDefault();
  const c = state.complaint;
  if (!state.citing.length) { formError($('cs-error'), { message: t('pick_some') }); return; }
  try {
    await api(`${API}/complaints/${c.id}/updates`, { method: 'POST', json: {
      kind: 'supplemented', occurred_at: dayMoment($('cs-date').value),
      reason: $('cs-reason').value.trim() || null,
      report_ids: [...state.citing].sort(byObservation).map((report) => report.id) } });
    $('cs-reason').value = '';
    await showComplaint(c.id);
    showMessage(t('saved'), 'info');
    $('cp-supplement-open').focus();
  } catch (err) {
    formError($('cs-error'), err);
  }
}

async function downloadPacket(complaint) {
  try {
    const blob = await (await api(`${API}/complaints/${complaint.id}/packet`)).blob();
    saveBlob(blob, `complaint-${complaint.number}.pdf`);
    document.body.dataset.downloaded = complaint.id;
  } catch (err) {
    handleError(err);
  }
}

// ---- users -----------------------------------------------------------------------------

async function showUsers() {
  const users = await getJSON(API + '/users');
  const roles = $('role-options').content;
  $('users-rows').replaceChildren(...users.map((user) => {
    const select = el('select', { 'aria-label': `${t('role')} ${user.email}`,
      on: { change: () => patchUser(user.id, { role: select.value }) } });
    select.append(roles.cloneNode(true));
    for (const option of select.options) option.textContent = t('role_' + option.value);
    select.value = user.role;
    return el('tr', { 'data-user': user.id, 'data-email': user.email, 'data-role': user.role,
      'data-disabled': String(user.disabled) },
      el('td', { text: user.email }), el('td', { text: user.display_name || '—' }),
      el('td', { text: user.pseudonym }), el('td', {}, select),
      el('td', { text: t(user.disabled ? 'disabled' : 'enabled') }),
      el('td', {}, el('button', { type: 'button', className: 'toggle', text: t(user.disabled ? 'enable' : 'disable'),
        on: { click: () => patchUser(user.id, { disabled: !user.disabled }) } })));
  }));
}

async function patchUser(id, changes) {
  try {
    await api(`${API}/users/${id}`, { method: 'PATCH', json: changes });
    await showUsers();
    showMessage(t('saved'), 'info');
    const row = document.querySelector(`#users-rows tr[data-user="${id}"] button.toggle`);
    if (row && 'disabled' in changes) row.focus();
  } catch (err) {
    handleError(err);
  }
}

async function createUser(event) {
  event.preventDefault();
  try {
    await api(API + '/users', { method: 'POST', json: {
      email: $('un-email').value.trim(), password: $('un-password').value,
      role: $('un-role').value, display_name: $('un-name').value.trim() || null } });
    for (const id of ['un-email', 'un-password', 'un-name']) $(id).value = '';
    await showUsers();
    showMessage(t('saved'), 'info');
  } catch (err) {
    handleError(err);
  }
}

// ---- wiring ----------------------------------------------------------------------------

$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', signOut);
$('lang').addEventListener('click', toggleLanguage);
$('queue-filters').addEventListener('change', () => loadQueue().catch(handleError));
$('queue-filters').addEventListener('submit', (e) => { e.preventDefault(); loadQueue().catch(handleError); });
$('r-accept').addEventListener('click', () => decideCurrent('accepted'));
$('r-needs').addEventListener('click', () => decideCurrent('needs_more'));
$('decide').addEventListener('submit', (e) => { e.preventDefault(); decideCurrent('rejected'); });
$('bulk-accept').addEventListener('click', () => decideSelected('accepted'));
$('bulk-needs').addEventListener('click', () => decideSelected('needs_more'));
$('bulk-reject').addEventListener('click', () => decideSelected('rejected'));
$('r-custody-show').addEventListener('click', showCustody);
$('sites-search').addEventListener('submit', (e) => showSites(e).catch(handleError));
$('case-new').addEventListener('submit', createCase);
$('picker-open').addEventListener('click', () => openPicker().catch(handleError));
$('picker-close').addEventListener('click', () => { $('picker').hidden = true; $('picker-open').focus(); });
$('picker-form').addEventListener('submit', addItem);
$('entry-new').addEventListener('submit', addEntry);
$('case-edit').addEventListener('submit', saveCase);
$('freeze').addEventListener('click', freeze);
$('user-new').addEventListener('submit', createUser);
$('complaint-new').addEventListener('submit', fileComplaint);
$('cf-site').addEventListener('change', () => loadCitable().catch(handleError));
$('cp-update').addEventListener('submit', recordUpdate);
$('cu-kind').addEventListener('change', showUpdateFields);
$('cp-packet').addEventListener('click', () => downloadPacket(state.complaint));
$('cp-supplement-open').addEventListener('click', () => openSupplement().catch(handleError));
$('cp-supplement').addEventListener('submit', sendSupplement);
$('cs-close').addEventListener('click', () => { $('cp-supplement').hidden = true; $('cp-supplement-open').focus(); });
$('c-overdue').addEventListener('change', () => loadComplaints().catch(handleError));
document.addEventListener('keydown', queueKeys);
window.addEventListener('hashchange', () => {
  if (applyFragment()) start(); else route();
});

applyLanguage();
applyFragment();
if (state.token) start(); else showSignIn();
