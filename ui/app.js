// drydock's dashboard: a page over the security API and the query language (docs/ui.md).
// Every value from the server is put in the page as text (never as HTML), and the page talks
// only to its own origin with a bearer token kept for the tab (sessionStorage): no cookie, so
// no request can be forged from another site.
'use strict';

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'NEGLIGIBLE', 'UNKNOWN'];
const STATUSES = ['Unhealthy', 'Healthy', 'NotApplicable', 'Failed', 'Queued'];
const SUBS = "securityresources | where type == 'microsoft.security/assessments/subassessments'";
const IMAGES = "resources | where type == 'microsoft.containerregistry/registries/repositories/images'";
const PAGE = 50;
const main = () => document.getElementById('main');

// ---- building the page: text only ----

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false)
    e.append(k instanceof Node ? k : String(k));
  return e;
}
const svg = (tag, attrs, ...kids) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
};
function show(...nodes) { const m = main(); m.replaceChildren(...nodes.filter(n => n !== null && n !== undefined && n !== false)); }
function link(hash, text, attrs) { return el('a', Object.assign({ href: hash, text }, attrs || {})); }
function hashOf(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '' && v !== null) q.set(k, v);
  const s = q.toString();
  return '#' + path + (s ? '?' + s : '');
}
const imageHash = (repo, digest) => '#/image/' + encodeURIComponent(repo) + '@' + encodeURIComponent(digest);
const fmtBytes = n => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB'
  : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
const fmtTime = s => s ? s.replace('T', ' ').replace('Z', ' UTC') : '';
const sevBadge = s => el('span', { class: 'sev sev-' + s, text: s });
const statusText = s => el('span', { class: 'status-' + s, text: s });

// A severity bar with its numbers in words beside it (not colour alone).
function sevBar(counts) {
  const total = SEVERITIES.reduce((t, s) => t + (counts[s] || counts[s.toLowerCase()] || 0), 0);
  const bar = el('span', { class: 'bar', role: 'img', 'aria-label': SEVERITIES.map(s =>
    `${counts[s] || counts[s.toLowerCase()] || 0} ${s.toLowerCase()}`).join(', ') });
  for (const s of SEVERITIES) {
    const n = counts[s] || counts[s.toLowerCase()] || 0;
    if (n && total) bar.append(el('span', { class: s, style: null, title: `${n} ${s}` }));
    if (n && total) bar.lastChild.style.width = (100 * n / total) + '%';
  }
  const words = SEVERITIES.filter(s => counts[s] || counts[s.toLowerCase()]).map(s =>
    `${s[0]}${s.slice(1).toLowerCase()} ${counts[s] || counts[s.toLowerCase()]}`).join(', ');
  return el('span', {}, bar, ' ', el('span', { class: 'muted', text: words || 'no findings' }));
}

function table(head, rows, opts) {
  const t = el('table', {}, el('caption', { class: 'muted', text: opts && opts.caption || '' }));
  t.append(el('thead', {}, el('tr', {}, head.map(h => typeof h === 'string' ? el('th', { scope: 'col', text: h }) : h))));
  t.append(el('tbody', {}, rows.map(r => el('tr', {}, r.map(c => c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))))));
  return t;
}
const num = v => el('td', { class: 'num', text: String(v) });

// ---- talking to the server ----

const tok = { get access() { return sessionStorage.getItem('drydock.access'); },
              get refresh() { return sessionStorage.getItem('drydock.refresh'); } };

class NeedLogin extends Error {}

async function api(path, opts = {}, retried = false) {
  const headers = Object.assign({}, opts.headers || {});
  if (tok.access) headers.Authorization = 'Bearer ' + tok.access;
  const r = await fetch(path, Object.assign({}, opts, { headers, credentials: 'omit', cache: 'no-store' }));
  if (r.status === 401 && !retried && tok.refresh && await renew()) return api(path, opts, true);
  if (r.status === 401) throw new NeedLogin();
  return r;
}

function message(body, r) {
  const e = body && body.errors && body.errors[0];
  if (e && e.message) return e.message + (typeof e.detail === 'string' && e.detail ? ': ' + e.detail : '');
  return body && ((body.error && body.error.message) || body.error_description || (typeof body.error === 'string' && body.error))
    || `${r.status} ${r.statusText}`;
}

async function getJSON(path, opts) {
  const r = await api(path, opts);
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(message(body, r));
  return body;
}

async function tokenRequest(form) {
  const r = await fetch('/auth/token', { method: 'POST', credentials: 'omit', cache: 'no-store',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(message(body, r));
  const access = body && (body.access_token || body.token);
  if (!access) throw new Error('the token endpoint gave no token');
  sessionStorage.setItem('drydock.access', access);
  if (body.refresh_token) sessionStorage.setItem('drydock.refresh', body.refresh_token);
  return body;
}

async function renew() {
  try { await tokenRequest({ grant_type: 'refresh_token', refresh_token: tok.refresh }); return true; }
  catch (e) { logout(false); return false; }
}

function logout(go = true) {
  sessionStorage.removeItem('drydock.access');
  sessionStorage.removeItem('drydock.refresh');
  sessionStorage.removeItem('drydock.user');
  whoami();
  if (go) location.hash = '#/login';
}

function whoami() {
  const u = sessionStorage.getItem('drydock.user');
  document.getElementById('who').textContent = u ? 'Signed in as ' + u : '';
  document.getElementById('logout').hidden = !u;
}

async function query(text, top = 1000, skip = 0) {
  return getJSON('/api/v1/query', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query: text, options: { $top: top, $skip: skip } }) });
}
// A string as a Kusto literal.
const kq = s => '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  .replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/\0/g, '\\0') + '"';
// An image's repository is in namespace ns: ns itself (a repository without a slash) or under it.
const inNamespace = ns => `(tostring(properties.repositoryName) == ${kq(ns)} or tostring(properties.repositoryName) startswith ${kq(ns + '/')})`;
const rowsOf = r => r.rows.map(row => Object.fromEntries(r.columns.map((c, i) => [c.name, row[i]])));

// ---- pages ----

function loginPage(params) {
  const user = el('input', { id: 'user', name: 'username', autocomplete: 'username', required: true });
  const pass = el('input', { id: 'pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'inline', onsubmit: async e => {
    e.preventDefault();
    err.textContent = '';
    try {
      await tokenRequest({ grant_type: 'password', username: user.value, password: pass.value, access_type: 'offline' });
      sessionStorage.setItem('drydock.user', user.value);
      pass.value = '';
      whoami();
      location.hash = params.get('next') || '#/';
    } catch (x) { err.textContent = x.message; }
  } }, el('label', { for: 'user' }, 'User', user), el('label', { for: 'pass' }, 'Password', pass),
  el('button', { type: 'submit', text: 'Sign in' }));
  show(el('h1', { text: 'Sign in' }), form, err);
  user.focus();
}

function sevChart(by) {
  const w = 520, rowH = 26, max = Math.max(1, ...SEVERITIES.map(s => by[s] || 0));
  const g = svg('svg', { width: w, height: rowH * SEVERITIES.length + 4, role: 'img',
    'aria-label': 'Findings by severity: ' + SEVERITIES.map(s => `${by[s] || 0} ${s.toLowerCase()}`).join(', ') });
  SEVERITIES.forEach((s, i) => {
    const n = by[s] || 0, y = i * rowH + 2, bw = Math.round((w - 220) * n / max);
    g.append(svg('text', { x: 0, y: y + 16 }, s[0] + s.slice(1).toLowerCase()));
    g.append(svg('rect', { x: 110, y: y + 4, width: Math.max(bw, n ? 2 : 0), height: rowH - 10,
      fill: getComputedStyle(document.documentElement).getPropertyValue('--' + ({ CRITICAL: 'crit', HIGH: 'high',
        MEDIUM: 'med', LOW: 'low', NEGLIGIBLE: 'neg', UNKNOWN: 'unk' })[s]).trim() }));
    g.append(svg('text', { x: 116 + bw, y: y + 16 }, n.toLocaleString('en')));
  });
  return g;
}

// The last days' findings (a line each: all, and critical with high) and images assessed each
// day (bars), with the numbers as a table beside it (not the picture alone).
function trendChart(days) {
  const w = 520, h = 150, pad = 30, n = days.length;
  const total = d => SEVERITIES.reduce((t, s) => t + (d.findings_by_severity[s] || 0), 0);
  const severe = d => (d.findings_by_severity.CRITICAL || 0) + (d.findings_by_severity.HIGH || 0);
  const maxF = Math.max(1, ...days.map(total)), maxA = Math.max(1, ...days.map(d => d.assessed));
  const x = i => pad + (w - 2 * pad) * (n > 1 ? i / (n - 1) : 0.5);
  const y = (v, max) => h - pad - (h - 2 * pad) * v / max;
  const g = svg('svg', { width: w, height: h, role: 'img', 'aria-label': `Findings over the last ${n} days: ` +
    `${total(days[0]).toLocaleString('en')} on ${days[0].day}, ${total(days[n - 1]).toLocaleString('en')} today` });
  days.forEach((d, i) => { if (d.assessed) g.append(svg('rect', { x: x(i) - 3, y: y(d.assessed, maxA), width: 6,
    height: h - pad - y(d.assessed, maxA), class: 'assessed' }, svg('title', {}, `${d.day}: ${d.assessed} assessed`))); });
  g.append(svg('polyline', { class: 'all', fill: 'none', points: days.map((d, i) => `${x(i)},${y(total(d), maxF)}`).join(' ') }));
  g.append(svg('polyline', { class: 'severe', fill: 'none', points: days.map((d, i) => `${x(i)},${y(severe(d), maxF)}`).join(' ') }));
  g.append(svg('text', { x: 0, y: 12 }, maxF.toLocaleString('en')), svg('text', { x: 0, y: h - pad }, '0'),
    svg('text', { x: pad, y: h - 8 }, days[0].day), svg('text', { x: w - pad - 70, y: h - 8 }, days[n - 1].day));
  const rows = days.filter(d => d.assessed || total(d)).slice(-10).reverse();
  return el('div', {}, g, el('p', { class: 'legend' }, el('span', { class: 'key all', text: 'all findings' }), ' ',
    el('span', { class: 'key severe', text: 'critical and high' }), ' ', el('span', { class: 'key assessed', text: 'images assessed that day' }),
    el('span', { class: 'muted', text: ' · before suppression rules' })),
  el('details', {}, el('summary', { text: 'As a table' }), table(['Day', el('th', { class: 'num', scope: 'col', text: 'Findings' }),
    el('th', { class: 'num', scope: 'col', text: 'Critical and high' }), el('th', { class: 'num', scope: 'col', text: 'Assessed' })],
  rows.map(d => [d.day, num(total(d)), num(severe(d)), num(d.assessed)]), { caption: 'The last days with findings or assessments' })));
}

async function overview() {
  const [sum, trend, dbinfo] = await Promise.all([getJSON('/api/v1/summary'), getJSON('/api/v1/trend?days=30').catch(() => null),
    getJSON('/api/v1/database').catch(() => ({ feeds: [] }))]);
  const cards = el('div', { class: 'cards' });
  for (const s of STATUSES) {
    const n = s === 'Queued' ? (sum.queued || 0) + (sum.scanning || 0) : (sum.images_by_status[s] || 0);
    cards.append(el('a', { class: 'card', href: hashOf('/images', { status: s }) },
      el('div', { class: 'n', text: n.toLocaleString('en') }), el('div', { text: s === 'Queued' ? 'Queued or scanning' : s })));
  }
  const top = el('div', { id: 'top-vulns' }, el('p', { class: 'muted', text: 'Loading…' }));
  const stale = dbinfo.feeds.filter(f => f.stale);
  const db = dbinfo.generation ? el('div', {}, el('p', {}, 'Vulnerability database ', el('span', { class: 'mono', text: dbinfo.generation }),
    `, built ${fmtTime(dbinfo.built_at)}.`),
  stale.length ? el('p', { class: 'error', role: 'status', text: `Warning: ${stale.length} of ${dbinfo.feeds.length} feeds hold data ` +
    `more than ${dbinfo.stale_after_days} days old: ${stale.map(f => f.name).join(', ')}. Findings published since are missing.` }) : null,
  table(['Feed', 'Kind', el('th', { class: 'num', scope: 'col', text: 'Records' }), 'Newest data', el('th', { class: 'num', scope: 'col', text: 'Age (days)' })],
    dbinfo.feeds.map(f => [f.name, f.kind, num(f.records), fmtTime(f.snapshot || ''),
      el('td', { class: 'num' + (f.stale ? ' error' : ''), text: f.age_days === undefined ? '' : String(f.age_days) + (f.stale ? ' (stale)' : '') })]),
    { caption: 'Each feed in the database and how old its newest data is' }))
    : el('p', { class: 'muted', text: 'No vulnerability database: images are not assessed.' });
  const upgrades = el('div', { id: 'upgrades' }, el('p', { class: 'muted', text: 'Loading…' }));
  const exploited = el('div', { id: 'known-exploited' }, el('p', { class: 'muted', text: 'Loading…' }));
  show(el('h1', { text: 'Overview' }), cards, el('h2', { text: 'Findings by severity' }), sevChart(sum.findings_by_severity),
    el('p', { class: 'muted', text: `${(sum.unfixed_findings || 0).toLocaleString('en')} findings have no fix yet.` }),
    el('h2', { text: 'The last 30 days' }), trend ? trendChart(trend.days) : el('p', { class: 'muted', text: 'No history.' }),
    el('h2', { text: 'Known exploited' }), exploited,
    el('h2', { text: 'Vulnerabilities affecting most images' }), top,
    el('h2', { text: 'Upgrades that clear most findings' }), upgrades, el('h2', { text: 'Database' }), db);
  const kevs = await getJSON('/api/v1/known-exploited');
  exploited.replaceChildren(!kevs.catalogue ? el('p', { class: 'muted', text: 'The database has no catalogue of known-exploited vulnerabilities.' })
    : kevs.vulnerabilities.length ? el('div', {}, el('p', { class: 'error', text: `${kevs.images.toLocaleString('en')} image${kevs.images > 1 ? 's have' : ' has'} ` +
      `findings in CISA's catalogue of ${kevs.catalogue.toLocaleString('en')} vulnerabilities known to be exploited.` }),
    table(['Vulnerability', 'Name', 'In the catalogue since', el('th', { class: 'num', scope: 'col', text: 'Images' }), 'Packages', 'Required action'],
      kevs.vulnerabilities.slice(0, 20).map(k => [link(hashOf('/search', { q: k.cve }), k.cve), k.name, k.date_added, num(k.images),
        k.packages.join(', '), k.required_action]), { caption: 'Known-exploited vulnerabilities found in the images, most images first' }))
    : el('p', { class: 'muted', text: `No image has a finding in CISA's catalogue of ${kevs.catalogue.toLocaleString('en')} known-exploited vulnerabilities.` }));
  const q = await query(`${SUBS} | where properties.additionalData.assessedResourceType == "AzureContainerRegistryVulnerability"` +
    ' | summarize images = dcount(tostring(properties.additionalData.artifactDetails.digest))' +
    ' by cve = tostring(properties.additionalData.vulnerabilityDetails.cveId),' +
    ' severity = tostring(properties.additionalData.vulnerabilityDetails.severity)' +
    ' | where isnotempty(cve) | extend rank = case(severity == "High", 0, severity == "Medium", 1, 2)' +
    ' | order by images desc, rank asc, cve asc | take 10 | project-away rank', 10);
  top.replaceChildren(rowsOf(q).length ? table(['Vulnerability', 'Severity', el('th', { class: 'num', scope: 'col', text: 'Images' })],
    rowsOf(q).map(r => [link(hashOf('/search', { q: r.cve }), r.cve), r.severity, num(r.images)])) :
    el('p', { class: 'muted', text: 'No findings.' }));
  const u = (await getJSON('/api/v1/upgrades?limit=10')).upgrades;
  upgrades.replaceChildren(u.length ? table(['Source package', 'Upgrade to', el('th', { class: 'num', scope: 'col', text: 'Findings cleared' }),
    el('th', { class: 'num', scope: 'col', text: 'Images' }), 'Worst'], u.map(r => [link(hashOf('/search', { q: r.source }), r.source),
    el('span', { class: 'mono', text: r.to }), num(r.clears), num(r.images), sevBadge(r.worst)]),
    { caption: "Each image's fix plan (every package of a source package to the highest fixed version among its findings), summed over the images; before suppression rules" })
    : el('p', { class: 'muted', text: 'No finding has a fix.' }));
}

async function recommendation() {
  const q = await query(`${IMAGES} | extend ns = tostring(split(tostring(properties.repositoryName), '/')[0]),` +
    ' st = tostring(properties.status) | summarize unhealthy = countif(st == "Unhealthy"), healthy = countif(st == "Healthy"),' +
    ' na = countif(st == "NotApplicable"), other = countif(st !in ("Unhealthy", "Healthy", "NotApplicable")) by ns | order by unhealthy desc, ns asc');
  const rows = rowsOf(q);
  const unhealthy = rows.filter(r => r.unhealthy), fine = rows.filter(r => !r.unhealthy);
  const entry = r => {
    const d = el('details', {}, el('summary', {}, el('strong', { text: r.ns }),
      ` — ${r.unhealthy} unhealthy, ${r.healthy} healthy, ${r.na} not applicable` + (r.other ? `, ${r.other} queued or failed` : '') + ' · ',
      link('#/namespace/' + encodeURIComponent(r.ns), 'settings')));
    d.addEventListener('toggle', async () => {
      if (!d.open || d.dataset.loaded) return;
      d.dataset.loaded = '1';
      const imgs = rowsOf(await query(`${IMAGES} | where ${inNamespace(r.ns)}` +
        ' | where tostring(properties.status) == "Unhealthy" | project repo = tostring(properties.repositoryName),' +
        ' digest = tostring(properties.digest), counts = properties.counts | order by repo asc', 100));
      d.append(table(['Image', 'Findings'], imgs.map(i => [link(imageHash(i.repo, i.digest), `${i.repo}@${i.digest.slice(0, 19)}…`),
        sevBar(i.counts || {})])), link(hashOf('/images', { ns: r.ns, status: 'Unhealthy' }), 'All unhealthy images of ' + r.ns));
    });
    return d;
  };
  show(el('h1', { text: 'Vulnerabilities in container registry images should be remediated' }),
    el('p', { class: 'muted', text: 'Each namespace (a registry of its own in the Azure shape) with its unhealthy images; open one to list them.' }),
    el('h2', { text: `Unhealthy (${unhealthy.length})` }), ...unhealthy.map(entry),
    el('h2', { text: `Healthy or not applicable (${fine.length})` }), ...fine.map(entry));
}

async function images(params) {
  const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
  const status = params.get('status') || '', text = params.get('q') || '', ns = params.get('ns') || '';
  const sev = SEVERITIES.slice(0, 4).includes(params.get('sev')) ? params.get('sev') : '', repo = params.get('repo') || '';
  const state = { status, q: text, ns, sev, repo };
  const cols = { name: 'name', pushed: 'pushed', size: 'size', status: 'st', critical: 'crit' };
  const sort = Object.hasOwn(cols, params.get('sort') || '') ? params.get('sort') : 'pushed';
  const dir = params.get('dir') === 'asc' ? 'asc' : 'desc';
  let k = `${IMAGES} | extend st = tostring(coalesce(properties.worstPlatformStatus, properties.status)), pushed = todatetime(properties.pushedAt),` +
    ' size = tolong(properties.size), crit = tolong(properties.counts.critical)';
  if (status) k += ` | where st == ${kq(status)}`;
  if (repo) k += ` | where tostring(properties.repositoryName) == ${kq(repo)}`;
  if (ns) k += ` | where ${inNamespace(ns)}`;
  if (sev) k += ' | where ' + SEVERITIES.slice(0, SEVERITIES.indexOf(sev) + 1)
    .map(s => `tolong(properties.counts.${s.toLowerCase()}) > 0`).join(' or ');
  if (text) k += ` | where name contains ${kq(text)} or tostring(properties.tags) contains ${kq(text)}`;
  k += ` | order by ${cols[sort]} ${dir}, name asc | project name, repo = tostring(properties.repositoryName),` +
    ' digest = tostring(properties.digest), tags = properties.tags, size, pushed, st, counts = properties.counts';
  const sel = el('select', { id: 'f-status', name: 'status' }, el('option', { value: '', text: 'any' }),
    STATUSES.map(s => el('option', { value: s, text: s, selected: s === status })));
  const sevSel = el('select', { id: 'f-sev', name: 'sev' }, el('option', { value: '', text: 'any' }),
    SEVERITIES.slice(0, 4).map(s => el('option', { value: s, text: `${s} or worse`, selected: s === sev })));
  const box = el('input', { id: 'f-text', name: 'q', value: text, type: 'search' });
  const nsBox = el('input', { id: 'f-ns', name: 'ns', value: ns });
  const form = el('form', { class: 'inline', role: 'search', onsubmit: e => {
    e.preventDefault();
    location.hash = hashOf('/images', { status: sel.value, sev: sevSel.value, q: box.value, ns: nsBox.value, repo, sort, dir });
  } }, el('label', { for: 'f-status' }, 'Status', sel), el('label', { for: 'f-sev' }, 'Findings of', sevSel),
  el('label', { for: 'f-ns' }, 'Namespace', nsBox), el('label', { for: 'f-text' }, 'Name or tag contains', box),
  el('button', { type: 'submit', text: 'Filter' }));
  const r = await query(k, PAGE, page * PAGE);
  // the platforms of this page's images alone (each is read from its image's config)
  const names = rowsOf(r).map(i => i.name);
  const plat = names.length ? Object.fromEntries(rowsOf(await query(`${IMAGES} | where name in (${names.map(kq).join(', ')})` +
    ' | project name, platform = coalesce(tostring(properties.platform), strcat_array(properties.platforms, ", "))', PAGE))
    .map(x => [x.name, x.platform])) : {};
  const sortHead = (key, label, cls) => el('th', { scope: 'col', class: cls, 'aria-sort': sort === key ? (dir === 'asc' ? 'ascending' : 'descending') : null },
    el('button', { type: 'button', text: label + (sort === key ? (dir === 'asc' ? ' ▲' : ' ▼') : ''), onclick: () => {
      location.hash = hashOf('/images', { ...state, sort: key, dir: sort === key && dir === 'desc' ? 'asc' : 'desc' });
    } }));
  const rows = rowsOf(r).map(i => [link(imageHash(i.repo, i.digest), i.name), (i.tags || []).join(', '), plat[i.name] || '',
    el('td', { class: 'num', text: fmtBytes(i.size || 0) }), fmtTime(i.pushed), statusText(i.st), sevBar(i.counts || {})]);
  const last = Math.max(0, Math.ceil(r.totalRecords / PAGE) - 1);
  const pager = el('div', { class: 'pager' },
    page > 0 ? link(hashOf('/images', { ...state, sort, dir, page: page - 1 }), 'Previous') : '',
    el('span', { text: `Page ${page + 1} of ${last + 1} (${r.totalRecords.toLocaleString('en')} images)` }),
    page < last ? link(hashOf('/images', { ...state, sort, dir, page: page + 1 }), 'Next') : '');
  show(el('h1', { text: repo ? `Images of ${repo}` : 'Images' }), form, table([sortHead('name', 'Image'), 'Tags', 'Platform', sortHead('size', 'Size', 'num'),
    sortHead('pushed', 'Pushed'), sortHead('status', 'Status'), sortHead('critical', 'Findings')], rows), pager);
}

async function repositories(params) {
  const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
  const text = params.get('q') || '';
  const cols = { repo: 'repo', images: 'images', unhealthy: 'unhealthy', critical: 'critical', high: 'high' };
  const sort = Object.hasOwn(cols, params.get('sort') || '') ? params.get('sort') : 'unhealthy';
  const dir = params.get('dir') === 'asc' ? 'asc' : 'desc';
  let k = `${IMAGES} | extend repo = tostring(properties.repositoryName), st = tostring(coalesce(properties.worstPlatformStatus, properties.status))`;
  if (text) k += ` | where repo contains ${kq(text)}`;
  k += ' | summarize images = count(), tagged = countif(array_length(properties.tags) > 0), unhealthy = countif(st == "Unhealthy"),' +
    ' critical = sum(tolong(properties.counts.critical)), high = sum(tolong(properties.counts.high)),' +
    ' medium = sum(tolong(properties.counts.medium)), low = sum(tolong(properties.counts.low)),' +
    ' negligible = sum(tolong(properties.counts.negligible)), unknown = sum(tolong(properties.counts.unknown)),' +
    ` pushed = max(todatetime(properties.pushedAt)) by repo | order by ${cols[sort]} ${dir}, repo asc`;
  const r = await query(k, PAGE, page * PAGE);
  const box = el('input', { id: 'r-text', name: 'q', value: text, type: 'search' });
  const form = el('form', { class: 'inline', role: 'search', onsubmit: e => {
    e.preventDefault(); location.hash = hashOf('/repositories', { q: box.value, sort, dir });
  } }, el('label', { for: 'r-text' }, 'Name contains', box), el('button', { type: 'submit', text: 'Filter' }));
  const sortHead = (key, label, cls) => el('th', { scope: 'col', class: cls, 'aria-sort': sort === key ? (dir === 'asc' ? 'ascending' : 'descending') : null },
    el('button', { type: 'button', text: label + (sort === key ? (dir === 'asc' ? ' ▲' : ' ▼') : ''), onclick: () => {
      location.hash = hashOf('/repositories', { q: text, sort: key, dir: sort === key && dir === 'desc' ? 'asc' : 'desc' });
    } }));
  const rows = rowsOf(r).map(x => [link(hashOf('/images', { repo: x.repo }), x.repo), num(x.images), num(x.tagged), num(x.unhealthy),
    sevBar({ CRITICAL: x.critical, HIGH: x.high, MEDIUM: x.medium, LOW: x.low, NEGLIGIBLE: x.negligible, UNKNOWN: x.unknown }), fmtTime(x.pushed)]);
  const last = Math.max(0, Math.ceil(r.totalRecords / PAGE) - 1);
  const pager = el('div', { class: 'pager' },
    page > 0 ? link(hashOf('/repositories', { q: text, sort, dir, page: page - 1 }), 'Previous') : '',
    el('span', { text: `Page ${page + 1} of ${last + 1} (${r.totalRecords.toLocaleString('en')} repositories)` }),
    page < last ? link(hashOf('/repositories', { q: text, sort, dir, page: page + 1 }), 'Next') : '');
  show(el('h1', { text: 'Repositories' }), form, table([sortHead('repo', 'Repository'), sortHead('images', 'Images', 'num'),
    el('th', { scope: 'col', class: 'num', text: 'Tagged' }), sortHead('unhealthy', 'Unhealthy', 'num'), sortHead('critical', 'Findings'),
    'Last push'], rows), pager);
}

async function image(ref) {
  const at = ref.lastIndexOf('@');
  const repo = decodeURIComponent(ref.slice(0, at)), digest = decodeURIComponent(ref.slice(at + 1));
  const a = await getJSON('/api/v1/images?' + new URLSearchParams({ repository: repo, reference: digest, limit: 1000 }));
  const meta = rowsOf(await query(`${IMAGES} | where name == ${kq(repo + '@' + digest)} | project tags = properties.tags,` +
    ' platform = coalesce(tostring(properties.platform), strcat_array(properties.platforms, ", ")), size = tolong(properties.size),' +
    ' pushed = tostring(properties.pushedAt)', 1))[0] || {};
  const byPkg = new Map();
  for (const f of a.findings || []) {
    const key = f.package + ' ' + (f.installed_version || f.package_version || '');
    if (!byPkg.has(key)) byPkg.set(key, []);
    byPkg.get(key).push(f);
  }
  const groups = [...byPkg.entries()].sort((x, y) => SEVERITIES.indexOf(x[1][0].severity) - SEVERITIES.indexOf(y[1][0].severity));
  const findings = groups.map(([pkg, fs]) => el('details', { open: fs.some(f => f.severity === 'CRITICAL' || f.severity === 'HIGH') },
    el('summary', {}, el('strong', { text: pkg }), ` — ${fs.length} finding${fs.length > 1 ? 's' : ''}`),
    table(['Vulnerability', 'Severity', 'Fixed in', 'Remediation'], fs.map(f => [
      el('span', {}, link(hashOf('/search', { q: f.id }), f.id), f.known_exploited ? el('span', { class: 'kev',
        title: `${f.known_exploited.name}; in CISA's catalogue since ${f.known_exploited.date_added}: ${f.known_exploited.required_action}`,
        text: ' known exploited' }) : '', f.suppressed ? el('span', { class: 'muted',
        text: ` (suppressed by rule ${f.suppressed.rule}${f.suppressed.reason ? ': ' + f.suppressed.reason : ''})` }) : ''),
      sevBadge(f.severity), f.fixed_version || 'no fix yet', f.remediation || '']))));
  const plan = (a.fix_plan || []).length ? table(['Source package', 'Packages', 'Upgrade', el('th', { class: 'num', scope: 'col', text: 'Clears' }), 'Worst'],
    a.fix_plan.map(p => [p.source, (p.packages || []).join(', '), `${p.from} → ${p.to}`, num(p.clears), sevBadge(p.worst)]))
    : el('p', { class: 'muted', text: 'No upgrade available clears a finding yet.' });
  const layers = a.layers ? table(['#', 'Layer', el('th', { class: 'num', scope: 'col', text: 'Size' }), 'Packages it introduced'],
    a.layers.map((l, i) => [num(i + 1), el('span', { class: 'mono', text: l.digest }), num(fmtBytes(l.size)),
      l.packages === null ? el('span', { class: 'muted', text: 'not recorded (assessed before layers were; scan again)' })
        : l.packages.length ? el('details', {}, el('summary', { text: `${l.packages.length} package${l.packages.length > 1 ? 's' : ''}` }),
          el('p', { class: 'mono', text: l.packages.map(p => p.version ? `${p.name} ${p.version}` : p.name).join(', ') }))
        : el('span', { class: 'muted', text: 'none' })]), { caption: 'Bottom layer first' }) : null;
  const platforms = a.manifests ? el('div', {}, el('p', {}, 'The worst of its platforms: ', statusText(a.worst_platform_status || '')),
    table(['Platform', 'Image', 'Status', 'Findings'], a.manifests.map(p => [p.platform || 'unknown',
      link(imageHash(repo, p.digest), p.digest.slice(0, 19) + '…'), statusText(p.status), sevBar(p.counts || {})]))) : null;
  const referrers = (a.referrers || []).length ? table(['Artifact type', 'Digest', el('th', { class: 'num', scope: 'col', text: 'Size' }), 'Pushed'],
    a.referrers.map(x => [x.artifact_type || x.media_type, el('span', { class: 'mono', text: x.digest }), num(fmtBytes(x.size)),
      x.created ? new Date(x.created * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '']),
    { caption: 'Signatures, SBOMs and other artifacts whose subject is this image' })
    : el('p', { class: 'muted', text: 'No referrers (signatures, SBOMs, attestations).' });
  const note = el('span', { role: 'status' });
  const rescan = el('button', { type: 'button', id: 'rescan', text: 'Scan again', onclick: async () => {
    note.textContent = '';
    try {
      const r = await api('/api/v1/images/scan?' + new URLSearchParams({ repository: repo, reference: digest }), { method: 'POST' });
      const body = await r.json().catch(() => null);
      if (!r.ok) throw new Error(message(body, r));
      note.textContent = body.queued ? ' Queued: reload this page for the new result.' : ' A scan of it is already queued.';
    } catch (x) { if (x instanceof NeedLogin) return fail(x); note.textContent = ' ' + x.message; }
  } });
  show(el('h1', { class: 'mono', text: `${repo}@${digest}` }),
    el('p', {}, 'Status: ', statusText(a.status), a.reason ? ` — ${a.reason}` : '', ' · ', sevBar(a.counts || {}), ' ', rescan, note),
    el('p', { class: 'muted', text: [meta.tags && meta.tags.length ? 'Tags: ' + meta.tags.join(', ') : 'No tags',
      meta.platform ? 'Platform: ' + meta.platform : '', meta.size ? 'Size: ' + fmtBytes(meta.size) : '',
      meta.pushed ? 'Pushed: ' + fmtTime(meta.pushed) : '', a.os && a.os.pretty_name ? 'OS: ' + a.os.pretty_name : '',
      a.scanned_at ? 'Assessed: ' + new Date(a.scanned_at * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '']
      .filter(Boolean).join(' · ') }),
    platforms ? el('h2', { text: 'Platforms' }) : null, platforms,
    el('h2', { text: 'Fix plan' }), plan,
    layers ? el('h2', { text: 'Layers' }) : null, layers,
    el('h2', { text: 'Referrers' }), referrers,
    el('h2', { text: `Findings by package (${(a.findings || []).length}${a.total_findings > (a.findings || []).length ? ' of ' + a.total_findings : ''})` }),
    ...(findings.length ? findings : [el('p', { class: 'muted', text: 'No findings.' })]));
}

async function search(params) {
  const q = (params.get('q') || '').trim();
  const box = el('input', { id: 's-q', name: 'q', value: q, type: 'search', size: 50 });
  const form = el('form', { class: 'inline', role: 'search', onsubmit: e => {
    e.preventDefault(); location.hash = hashOf('/search', { q: box.value.trim() });
  } }, el('label', { for: 's-q' }, 'Vulnerability id, package or digest', box), el('button', { type: 'submit', text: 'Search' }));
  if (!q) { show(el('h1', { text: 'Search' }), form); box.focus(); return; }
  let k, what;
  if (/^sha(256|512):[0-9a-f]+$/.test(q)) {
    what = 'Images with this digest';
    k = `${IMAGES} | where tostring(properties.digest) == ${kq(q)} | project repo = tostring(properties.repositoryName),` +
      ' digest = tostring(properties.digest), detail = tostring(properties.status)';
  } else if (/^[A-Za-z]+-[0-9A-Za-z:.-]+$/.test(q) && /\d/.test(q)) {
    what = `Images with ${q}`;
    k = `${SUBS} | where properties.id =~ ${kq(q)} or properties.additionalData.vulnerabilityDetails.cveId =~ ${kq(q)}` +
      ' | distinct repo = tostring(properties.additionalData.artifactDetails.repositoryName),' +
      ' digest = tostring(properties.additionalData.artifactDetails.digest), detail = tostring(properties.additionalData.softwareDetails.packageName)' +
      ' | where isnotempty(digest) | order by repo asc';
  } else {
    what = `Images with package ${q}`;
    k = `${SUBS} | where properties.additionalData.softwareDetails.packageName == ${kq(q)}` +
      ' | distinct repo = tostring(properties.additionalData.artifactDetails.repositoryName),' +
      ' digest = tostring(properties.additionalData.artifactDetails.digest), detail = tostring(properties.additionalData.vulnerabilityDetails.cveId)' +
      ' | summarize detail = strcat_array(make_set(detail), ", ") by repo, digest | order by repo asc';
  }
  const r = await query(k, 500);
  show(el('h1', { text: 'Search' }), form, el('h2', { text: `${what}: ${r.totalRecords.toLocaleString('en')}` }),
    table(['Image', /^sha/.test(q) ? 'Status' : /Images with package/.test(what) ? 'Vulnerabilities' : 'Package'],
      rowsOf(r).map(i => [link(imageHash(i.repo, i.digest), `${i.repo}@${i.digest}`), i.detail || ''])));
}

async function suppressions() {
  const list = (await getJSON('/api/v1/suppressions')).suppressions || [];
  const err = el('p', { class: 'error', role: 'alert' });
  const remove = async rule => {
    err.textContent = '';
    try {
      const r = await api('/api/v1/suppressions/' + encodeURIComponent(rule.id), { method: 'DELETE' });
      if (!r.ok) throw new Error(message(await r.json().catch(() => null), r));
      await route();
    } catch (x) { if (x instanceof NeedLogin) throw x; err.textContent = x.message; }
  };
  const rows = list.map(rule => [rule.vulnerability || '', rule.package || '', rule.severity || '', rule.repository || '',
    rule.reason || '', rule.expires ? new Date(rule.expires * 1000).toISOString().slice(0, 10) + (rule.expired ? ' (expired)' : '') : 'never',
    el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete the rule ${rule.id}`, onclick: () => remove(rule).catch(fail) })]);
  const field = (id, label, attrs) => el('label', { for: id }, label, el('input', Object.assign({ id, name: id }, attrs || {})));
  const form = el('form', { class: 'inline', onsubmit: async e => {
    e.preventDefault();
    err.textContent = '';
    const v = id => document.getElementById(id).value.trim();
    const body = { reason: v('r-reason') };
    for (const [k, id] of [['vulnerability', 'r-vuln'], ['package', 'r-pkg'], ['severity', 'r-sev'], ['repository', 'r-repo']])
      if (v(id)) body[k] = v(id);
    if (v('r-exp')) body.expires = Math.floor(Date.parse(v('r-exp') + 'T00:00:00Z') / 1000);
    try {
      const r = await api('/api/v1/suppressions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body) });
      if (!r.ok) throw new Error(message(await r.json().catch(() => null), r));
      await route();
    } catch (x) { if (x instanceof NeedLogin) throw x; err.textContent = x.message; }
  } }, field('r-vuln', 'Vulnerability'), field('r-pkg', 'Package'), field('r-sev', 'Severities (LOW,NEGLIGIBLE)'),
  field('r-repo', 'Repositories (team/*)'), field('r-reason', 'Reason', { required: true }), field('r-exp', 'Expires', { type: 'date' }),
  el('button', { type: 'submit', text: 'Add rule' }));
  show(el('h1', { text: 'Suppression rules' }),
    el('p', { class: 'muted', text: 'A suppressed finding stays listed, marked with its rule, and no longer counts towards its image\'s status. Owners of the repositories a rule covers and admins may add and delete rules.' }),
    list.length ? table(['Vulnerability', 'Package', 'Severities', 'Repositories', 'Reason', 'Expires', ''], rows)
      : el('p', { class: 'muted', text: 'No rules.' }),
    el('h2', { text: 'Add a rule' }), form, err);
}

// A namespace's settings: scanning on or off, and the pull policy.
async function namespacePage(ns) {
  ns = decodeURIComponent(ns);
  const base = '/api/v1/namespaces/' + encodeURIComponent(ns);
  const [scan, policy] = await Promise.all([getJSON(base + '/scanning'), getJSON(base + '/policy')]);
  const err = el('p', { class: 'error', role: 'alert' });
  const send = async (path, opts) => {
    err.textContent = '';
    try {
      const r = await api(base + path, opts);
      if (!r.ok) throw new Error(message(await r.json().catch(() => null), r));
      await route();
    } catch (x) { if (x instanceof NeedLogin) throw x; err.textContent = x.message; }
  };
  const kev = el('input', { id: 'n-kev', name: 'kev', type: 'checkbox', checked: !!policy.deny_known_exploited });
  const gates = [['deny_unassessed', 'not assessed yet'], ['deny_failed', 'Failed'], ['deny_not_applicable', 'NotApplicable']]
    .map(([key, label]) => [key, label, el('input', { id: 'n-' + key, type: 'checkbox', checked: !!policy[key] })]);
  const unk = el('select', { id: 'n-unknown', name: 'unknown' }, el('option', { value: '', text: 'as UNKNOWN' }),
    SEVERITIES.slice(0, 5).map(s => el('option', { value: s, text: `as ${s}`, selected: s === policy.unknown_as })));
  const sel = el('select', { id: 'n-policy', name: 'policy' }, el('option', { value: '', text: 'no gate' }),
    SEVERITIES.map(s => el('option', { value: s, text: `${s} or worse`, selected: s === policy.deny_pull_at_or_above })));
  show(el('h1', { text: `Namespace ${ns}` }),
    el('h2', { text: 'Scanning' }),
    el('p', {}, `Scanning is ${scan.scanning ? 'on' : 'off'}. `, el('button', { type: 'button', id: 'n-scan',
      text: scan.scanning ? 'Turn scanning off' : 'Turn scanning on',
      onclick: () => send('/scanning?enabled=' + (!scan.scanning), { method: 'PUT' }).catch(fail) })),
    el('h2', { text: 'Pull policy' }),
    el('form', { class: 'inline', onsubmit: e => {
      e.preventDefault();
      const body = {};
      if (sel.value) body.deny_pull_at_or_above = sel.value;
      if (kev.checked) body.deny_known_exploited = true;
      for (const [key, , box] of gates) if (box.checked) body[key] = true;
      if (unk.value) body.unknown_as = unk.value;
      send('/policy', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).catch(fail);
    } }, el('label', { for: 'n-policy' }, 'Refuse pulls of images with an unsuppressed finding of', sel),
    el('label', { for: 'n-kev', class: 'check' }, kev, ' and of any known-exploited finding'),
    el('label', { for: 'n-unknown' }, 'UNKNOWN findings count', unk),
    ...gates.map(([key, label, box]) => el('label', { for: 'n-' + key, class: 'check' }, box, ` refuse images ${label}`)),
    el('button', { type: 'submit', text: 'Save' })),
    el('p', { class: 'muted', text: [policy.deny_pull_at_or_above ? `Pulls of images with ${policy.deny_pull_at_or_above} or worse findings are refused.` : '',
      policy.deny_known_exploited ? 'Pulls of images with a known-exploited finding are refused, whatever its severity.' : '',
      ...gates.filter(([key]) => policy[key]).map(([, label]) => `Pulls of images ${label} are refused.`)]
      .filter(Boolean).join(' ') || 'Pulls are not gated on findings.' }),
    err, el('p', {}, link(hashOf('/images', { ns }), `The images of ${ns}`)));
}

// The audit log (admins): who changed what, oldest first, a page at a time.
async function audit(params) {
  const after = params.get('after') || '0';
  const r = await getJSON('/api/v1/audit?' + new URLSearchParams({ after, n: 100 }));
  const rows = (r.entries || []).map(e => [fmtTime(e.time), e.actor, e.action, e.target,
    el('span', { class: 'mono', text: e.detail ? JSON.stringify(e.detail) : '' })]);
  const next = r.next && r.entries.length ? link(hashOf('/audit', { after: r.entries[r.entries.length - 1].id }), 'Next page') : '';
  show(el('h1', { text: 'Audit log' }), rows.length ? table(['Time', 'Account', 'Action', 'Target', 'Detail'], rows)
    : el('p', { class: 'muted', text: 'Nothing recorded.' }), next);
}

async function accounts() {
  const r = await getJSON('/api/v1/accounts');
  show(el('h1', { text: 'Accounts' }), el('p', { class: 'muted', text: 'Accounts are managed with drydock user on the server (add, role, password, delete).' }),
    table(['Name', 'Kind', 'Roles', 'Created', 'Expires'], r.accounts.map(a => [el('span', { class: 'mono', text: a.name }), a.kind,
      a.roles.map(g => `${g.role} on ${g.scope}`).join(', ') || el('span', { class: 'muted', text: 'none' }),
      a.created ? new Date(a.created * 1000).toISOString().slice(0, 10) : '',
      a.expires ? el('span', { class: a.expired ? 'error' : '', text: fmtTime(a.expires) + (a.expired ? ' (expired)' : '') }) : 'never'])));
}

function csvOf(r) {
  // a text that a spreadsheet would take for a formula (=, +, -, @, tab, CR first) gets a ' before it
  const cell = v => { let s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
  return [r.columns.map(c => cell(c.name)).join(','), ...r.rows.map(row => row.map(cell).join(','))].join('\r\n') + '\r\n';
}

function queryPage(params) {
  const area = el('textarea', { id: 'kql', name: 'query', spellcheck: 'false' });
  area.value = params.get('q') || `${SUBS}\n| summarize count() by severity = tostring(properties.status.severity)`;
  const out = el('div', { 'aria-live': 'polite' });
  const run = async e => {
    e.preventDefault();
    out.replaceChildren(el('p', { class: 'muted', text: 'Running…' }));
    try {
      const r = await query(area.value, 1000);
      if (queryPage.csv) URL.revokeObjectURL(queryPage.csv);
      const url = queryPage.csv = URL.createObjectURL(new Blob([csvOf(r)], { type: 'text/csv' }));
      out.replaceChildren(el('p', {}, `${r.totalRecords.toLocaleString('en')} rows${r.totalRecords > r.rows.length ? ', the first ' + r.rows.length + ' shown' : ''}. `,
        el('a', { href: url, download: 'query.csv', text: 'Download CSV' })),
        table(r.columns.map(c => c.name), r.rows.map(row => row.map(v => v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)))));
    } catch (x) {
      if (x instanceof NeedLogin) throw x;
      out.replaceChildren(el('p', { class: 'error', role: 'alert', text: x.message }));
    }
  };
  show(el('h1', { text: 'Query' }), el('p', { class: 'muted' }, 'Kusto over the tables securityresources and resources (docs/query.md).'),
    el('form', { onsubmit: e => run(e).catch(fail) }, el('label', { for: 'kql' }, 'Query', area), el('p', {}, el('button', { type: 'submit', text: 'Run' }))), out);
}

// ---- the router ----

function fail(x) {
  if (x instanceof NeedLogin) {
    if (!location.hash.startsWith('#/login')) location.hash = hashOf('/login', { next: location.hash });
    return;
  }
  show(el('h1', { text: 'Something went wrong' }), el('p', { class: 'error', role: 'alert', text: x.message }));
}

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return; // an anchor in the page (the skip link)
  const h = location.hash.slice(1) || '/';
  const qi = h.indexOf('?');
  const path = qi < 0 ? h : h.slice(0, qi), params = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
  for (const a of document.querySelectorAll('nav a'))
    if (a.getAttribute('href') === '#' + (path.startsWith('/image/') ? '/images' : path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  try {
    if (path === '/login') loginPage(params);
    else if (path === '/') await overview();
    else if (path === '/recommendation') await recommendation();
    else if (path === '/images') await images(params);
    else if (path.startsWith('/image/')) await image(path.slice(7));
    else if (path === '/search') await search(params);
    else if (path === '/query') queryPage(params);
    else if (path === '/suppressions') await suppressions();
    else if (path.startsWith('/namespace/')) await namespacePage(path.slice(11));
    else if (path === '/audit') await audit(params);
    else if (path === '/accounts') await accounts();
    else if (path === '/repositories') await repositories(params);
    else show(el('h1', { text: 'Not found' }), el('p', {}, link('#/', 'Overview')));
    document.title = 'drydock — ' + (main().querySelector('h1') || { textContent: '' }).textContent;
    main().dataset.route = location.hash; // which route the content shows (tests wait for it)
  } catch (x) { fail(x); }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('logout').addEventListener('click', () => logout());
  whoami();
  window.addEventListener('hashchange', route);
  route();
});
