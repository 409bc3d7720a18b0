/* ad-connect console: a small single-page application over the JSON API of adc-server
 * (docs/product.md section 6). Vanilla JS, no build step, no third-party requests. The page signs in
 * with a name and password (POST /api/v1/session); the server answers with an HttpOnly session
 * cookie the script never sees, and a CSRF token the script sends as X-CSRF-Token on every
 * state-changing request. DOM is built with createElement/textContent only, never innerHTML,
 * so names and messages coming from the directory cannot inject markup. */
'use strict';

const SETTINGS = [
  ['dry-run', 'Dry run', 'Compute and show the plan; change nothing in the cloud.'],
  ['no-update', 'No update', 'Never modify an existing cloud user.'],
  ['no-create', 'No create', 'Never create a cloud user.'],
  ['no-delete', 'No delete', 'Never delete or disable a cloud user that has left the directory.'],
  ['delete-disables', 'Delete disables', 'A user that has left the directory is disabled, not deleted.'],
  ['no-update-provider-mismatch', 'No update on provider mismatch',
    'A cloud user with the same name but owned by another provider is left alone (skipped). Off: the sync takes that user over.'],
  ['create-as-disabled', 'Create as disabled', 'New cloud users are created disabled.'],
];
const SCIM_SYNC_EXT = 'urn:adconnect:scim:schemas:extension:sync:2.0:User';
const SCIM_GROUP_EXT = 'urn:adconnect:scim:schemas:extension:sync:2.0:Group';
/* A group page shows its members this many at a time: a group may have 100,000. */
const MEMBERS_PAGE = 100;
const RUN_POLL_MS = 1000;
const STATUS_REFRESH_MS = 3000;
const PAGE_SIZE = 50;

const state = { session: null, timers: [], routeSeq: 0 };

/* ---------- small DOM helpers ---------- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function $(sel) { return document.querySelector(sel); }

/* Confirmations go away after a while; errors stay until the next navigation. */
function flash(text, kind) {
  const box = $('#flash');
  box.replaceChildren();
  clearTimeout(state.flashTimer);
  state.flashKeep = !!text;
  if (!text) return;
  const msg = h('p', { class: 'msg ' + (kind || 'ok') }, text);
  box.append(msg);
  if ((kind || 'ok') === 'ok') state.flashTimer = setTimeout(() => msg.remove(), 10000);
}

function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '—';
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  if (isNaN(d.getTime())) return String(v);
  /* Local time, sortable and unambiguous across locales: 2026-11-25 18:10:34. */
  const p2 = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

function badge(text, kind) { return h('span', { class: 'badge ' + kind }, text); }

function runBadge(status) {
  const kind = status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : 'neutral';
  const b = badge(status || 'unknown', kind);
  b.dataset.runStatus = status || 'unknown';
  return b;
}

/* Copies text to the clipboard; the Clipboard API needs a secure context (https or
 * 127.0.0.1/localhost), elsewhere fall back to selecting the text for Ctrl+C. */
async function copyText(text, output) {
  try {
    await navigator.clipboard.writeText(text);
    flash('Copied to the clipboard.');
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents(output);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    flash('Selected: press Ctrl+C to copy.');
  }
}

function copyRow(label, value, id) {
  const out = h('code', { id, 'aria-label': label }, value);
  return h('div', { class: 'secret-row' }, out,
    h('button', { type: 'button', class: 'secondary', onclick: () => copyText(value, out),
      'aria-label': 'Copy ' + label }, 'Copy'));
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

function errorText(body, status) {
  if (body && typeof body === 'object') {
    return body.error_description || body.message || body.detail || body.error || `HTTP ${status}`;
  }
  return typeof body === 'string' && body ? body : `HTTP ${status}`;
}

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session) headers['X-CSRF-Token'] = state.session.csrf_token;
  let resp;
  try {
    resp = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached: ' + e.message, null);
  }
  const text = await resp.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (e) { data = text; } }
  if (resp.status === 401 && state.session && path !== '/api/v1/session') {
    /* The session expired (idle or absolute limit) or was revoked: back to sign-in. */
    state.session = null;
    showSignIn('Your session has expired. Sign in again.');
    throw new ApiError(401, 'Session expired', data);
  }
  if (!resp.ok) throw new ApiError(resp.status, errorText(data, resp.status), data);
  return data;
}

/* The list answers of the API may be a bare array or wrapped in an object. */
function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const k of keys) if (data && Array.isArray(data[k])) return data[k];
  return [];
}

function configId(c) { return c.app_id || c.id; }
/* The first of several names a time field may have (created_at or created ...). */
function pick(o, ...keys) {
  for (const k of keys) if (o && o[k] !== undefined && o[k] !== null && o[k] !== '') return o[k];
  return undefined;
}
function runId(r) { return r.run_id || r.id; }
function runStats(r) { return r.stats || r.counts || {}; }

/* ---------- routing ---------- */

function clearTimers() {
  for (const t of state.timers) clearTimeout(t);
  state.timers = [];
}

function later(fn, ms, seq) {
  state.timers.push(setTimeout(() => { if (seq === state.routeSeq) fn(); }, ms));
}

function render(title, ...content) {
  document.title = title + ' — ad-connect console';
  const main = $('#main');
  const h1 = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(h1, ...content);
  return h1;
}

function setNav(active) {
  $('#nav').hidden = !state.session;
  $('#who').textContent = state.session ? 'Signed in as ' + state.session.name : '';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  clearTimers();
  const seq = ++state.routeSeq;
  if (!state.session) { showSignIn(); return; }
  /* #/users?name=... : the query belongs to the view, the path picks it. */
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  const parts = (path || 'configs').split('/').map(decodeURIComponent);
  let h1;
  try {
    if (parts[0] === 'configs' && parts.length === 1) h1 = await viewConfigs(seq);
    else if (parts[0] === 'configs' && parts[1] === 'new') h1 = viewNewConfig();
    else if (parts[0] === 'configs') h1 = await viewConfig(parts[1], seq);
    else if (parts[0] === 'users' && parts.length > 1) h1 = await viewUser(parts[1], seq);
    else if (parts[0] === 'users') h1 = await viewUsers(seq);
    else if (parts[0] === 'groups' && parts.length > 1) h1 = await viewGroup(parts[1], seq);
    else if (parts[0] === 'groups') h1 = await viewGroups(seq);
    else if (parts[0] === 'audit') h1 = await viewAudit(seq);
    else h1 = render('Not found', h('p', {}, 'There is no such page. ', h('a', { href: '#/configs' }, 'Back to the synchronizations.')));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    h1 = render('Error', h('p', { class: 'error-text', role: 'alert' }, e.message));
  }
  if (h1 && seq === state.routeSeq) h1.focus();
}

/* ---------- sign-in ---------- */

function showSignIn(message) {
  clearTimers();
  setNav(null);
  const err = h('p', { class: 'error-text', id: 'signin-error', role: 'alert' }, message || '');
  const name = h('input', { type: 'text', id: 'signin-name', name: 'name', autocomplete: 'username', required: true });
  const pw = h('input', { type: 'password', id: 'signin-password', name: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'stack', 'aria-describedby': 'signin-error', onsubmit: async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      const s = await api('POST', '/api/v1/session', { name: name.value, password: pw.value });
      state.session = s;
      flash('');
      if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/configs';
      else route();
    } catch (e) {
      pw.value = '';
      err.textContent = e.status === 401 ? 'Wrong name or password.'
        : e.status === 429 ? 'Too many failed sign-ins. Wait a minute and try again.' : e.message;
      pw.focus();
    } finally {
      btn.disabled = false;
    }
  } },
  h('label', { for: 'signin-name' }, 'Name'), name,
  h('label', { for: 'signin-password' }, 'Password'), pw,
  h('div', { class: 'actions' }, btn));
  document.title = 'Sign in — ad-connect console';
  $('#main').replaceChildren(h('section', { class: 'signin', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h' }, 'Sign in'),
    h('p', { class: 'hint' }, 'System Administrators only. Accounts are created on the server with ',
      h('code', {}, 'adc-server --db FILE admin create NAME'), '.'),
    err, form));
  name.focus();
}

async function signOut() {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { /* signed out either way */ }
  state.session = null;
  flash('You are signed out.');
  history.replaceState(null, '', '#/configs');
  showSignIn();
}

/* ---------- synchronization configurations ---------- */

function agentBadge(c) {
  return c.connected ? badge('Connected', 'ok') : badge('Disconnected', 'bad');
}

function lastRunCell(run) {
  if (!run) return h('span', { class: 'muted' }, 'never');
  return h('span', {}, runBadge(run.status), ' ', fmtTime(pick(run, 'finished', 'finished_at', 'started', 'started_at', 'created', 'created_at')));
}

function configsTable(configs) {
  if (configs.length === 0) {
    return h('p', { class: 'muted', id: 'configs' }, 'No synchronization yet. Add one, then install ad-connect (adc) next to your directory.');
  }
  return h('table', { id: 'configs' },
    h('caption', { class: 'muted' }, `${configs.length} synchronization${configs.length === 1 ? '' : 's'}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Application ID'),
      h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'Last run'))),
    h('tbody', {}, configs.map((c) => h('tr', { 'data-app-id': configId(c) },
      h('td', {}, h('a', { href: '#/configs/' + encodeURIComponent(configId(c)) }, c.name || configId(c))),
      h('td', { class: 'mono' }, configId(c)),
      h('td', {}, agentBadge(c)),
      h('td', {}, lastRunCell(c.last_run))))));
}

async function viewConfigs(seq) {
  const load = async () => listOf(await api('GET', '/api/v1/sync-configs'), 'sync_configs', 'configs', 'items');
  const box = h('div', {}, configsTable(await load()));
  /* Agents come and go: the table is redrawn in place, the rest of the page (and the
   * keyboard focus outside the table) stays. */
  const refresh = async () => {
    try { box.replaceChildren(configsTable(await load())); } catch (e) { if (e.status === 401) return; }
    later(refresh, 5 * STATUS_REFRESH_MS, seq);
  };
  later(refresh, 5 * STATUS_REFRESH_MS, seq);
  setNav('configs');
  return render('Synchronizations',
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/configs/new' }, 'Add synchronization')),
    box);
}

function viewNewConfig() {
  setNav('configs');
  const name = h('input', { type: 'text', id: 'new-name', required: true, maxlength: '200', 'aria-describedby': 'new-name-hint' });
  const err = h('p', { class: 'error-text', role: 'alert' });
  const btn = h('button', { type: 'submit' }, 'Create');
  const form = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      const c = await api('POST', '/api/v1/sync-configs', { name: name.value.trim() });
      showCreated(c, name.value.trim());
    } catch (e) {
      if (e.status !== 401) err.textContent = e.message;
      btn.disabled = false;
    }
  } },
  h('label', { for: 'new-name' }, 'Name'), name,
  h('p', { class: 'hint', id: 'new-name-hint' }, 'For example the directory or site it synchronizes: "Head office AD".'),
  err, h('div', { class: 'actions' }, btn, h('a', { href: '#/configs' }, 'Cancel')));
  return render('Add synchronization', form);
}

function adcCfg(appId) {
  return [
    '# /opt/exchange4all/ad-connect/adc.cfg — the cloud connection of ad-connect (adc)',
    `server = ${location.origin}`,
    `app_id = ${appId}`,
    '# The Secret Token, in a file only the adc service user can read (chmod 600):',
    'secret_file = /opt/exchange4all/ad-connect/secret',
    '# What to sync and how; default: adc.yaml beside this file',
    'yaml = /opt/exchange4all/ad-connect/adc.yaml',
    '',
  ].join('\n');
}

/* The ad-connect archive this server offers (adc-server serve --downloads DIR, listed by
 * GET /api/v1/downloads), the newest version first; null when it offers none. */
function agentArchive(d) {
  const files = ((d && d.files) || []).filter((f) => /^ad-connect-.+-linux-x86_64\.tar\.gz$/.test(f.name));
  files.sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }));
  return files[0] || null;
}

const INSTALL_DIR = '/opt/exchange4all/ad-connect';

/* The first steps: download, check and unpack the archive (or build from source when the
 * server offers no archive). */
function downloadSteps(file) {
  if (!file) {
    return [h('li', {}, 'This server offers no ad-connect download (its operator starts adc-server without --downloads). On a Debian 12 server that can reach your directory and this service (outbound HTTPS only), build and install ad-connect from its source:',
      h('pre', {}, `scripts/install-deps.sh\nmeson setup build --prefix ${INSTALL_DIR}\nninja -C build\nmeson install -C build\nadduser --system --group --home /var/lib/adc adc\ninstall -m 644 dist/adc.service /etc/systemd/system/adc.service`))];
  }
  const url = location.origin + file.url;
  const mb = (file.size / 1048576).toFixed(1);
  return [
    h('li', {}, 'Download ad-connect for Linux (x86-64; Debian 12 or 13, nothing else to install): ',
      h('a', { href: file.url, id: 'adc-download', download: file.name }, file.name), ` (${mb} MB). SHA-256: `,
      h('code', { id: 'adc-download-sha256' }, file.sha256)),
    h('li', {}, 'On the server next to your directory (outbound HTTPS to this service only), as root: fetch it, check it, unpack it and create the service user:',
      h('pre', { id: 'adc-unpack' }, [
        `curl -fLO ${url}`,
        `echo '${file.sha256}  ${file.name}' | sha256sum -c`,
        `mkdir -p ${INSTALL_DIR}`,
        `tar -xzf ${file.name} -C ${INSTALL_DIR} --strip-components=1`,
        'adduser --system --group --home /var/lib/adc adc',
        `install -m 644 ${INSTALL_DIR}/adc.service /etc/systemd/system/adc.service`,
      ].join('\n'))),
  ];
}

function installSteps(appId) {
  const cfg = adcCfg(appId);
  const cfgOut = h('pre', { id: 'adc-cfg' }, cfg);
  const list = h('ol', {},
    h('li', { class: 'muted' }, 'Looking for the ad-connect download…'),
    h('li', {}, `Save the Secret Token in ${INSTALL_DIR}/secret (one line), readable only by the service user adc:`,
      h('pre', {}, `install -m 600 -o adc -g adc /dev/null ${INSTALL_DIR}/secret\n# paste the token into the file (e.g. with nano ${INSTALL_DIR}/secret)`)),
    h('li', {}, `Replace the example ${INSTALL_DIR}/adc.cfg with this one:`, cfgOut,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => copyText(cfg, cfgOut) }, 'Copy adc.cfg'))),
    h('li', {}, `Edit ${INSTALL_DIR}/adc.yaml (your directory address, bind DN, base DN, filter and settings; the example there explains each key), then check everything:`,
      h('pre', {}, `${INSTALL_DIR}/bin/adc check\n${INSTALL_DIR}/bin/adc imp --dry-run`)),
    h('li', {}, 'Start the agent as a service; this page then shows the client as connected:',
      h('pre', {}, 'systemctl daemon-reload\nsystemctl enable --now adc')));
  /* The download is filled in when the server has answered; the other steps do not wait. */
  api('GET', '/api/v1/downloads')
    .then((d) => agentArchive(d))
    .catch(() => null)
    .then((file) => list.firstChild.replaceWith(...downloadSteps(file)));
  return h('section', { 'aria-labelledby': 'install-h' },
    h('h2', { id: 'install-h' }, 'Install ad-connect next to your directory'), list);
}

function secretWarning() {
  return h('div', { class: 'warning', role: 'note' },
    h('strong', {}, 'Copy the Secret Token now. '),
    'This is the only time it is shown: the server keeps only a hash of it. If it is lost, rotate the secret and update adc.cfg.');
}

function showCreated(c, name) {
  const appId = configId(c);
  /* Reloading must not show the secret again: the address becomes the configuration's page. */
  history.replaceState(null, '', '#/configs/' + encodeURIComponent(appId));
  const h1 = render('Synchronization created',
    h('p', {}, `"${c.name || name}" is ready. Give its Application ID and Secret Token to ad-connect (adc).`),
    secretWarning(),
    h('h2', {}, 'Credentials'),
    h('h3', {}, 'Application ID'), copyRow('Application ID', appId, 'created-app-id'),
    h('h3', {}, 'Secret Token'), copyRow('Secret Token', c.secret, 'created-secret'),
    installSteps(appId),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/configs/' + encodeURIComponent(appId) }, 'Done: go to the synchronization')));
  h1.focus();
}

function settingsForm(c, onSaved) {
  const current = c.settings || {};
  const fields = SETTINGS.map(([key, label, help]) => {
    const v = current[key];
    const val = v === true ? 'on' : v === false ? 'off' : 'client';
    const choice = (value, text) => {
      const id = `set-${key}-${value}`;
      return h('span', {}, h('input', { type: 'radio', name: key, id, value, checked: val === value }),
        ' ', h('label', { for: id }, text));
    };
    return h('fieldset', { class: 'setting', 'data-setting': key },
      h('legend', {}, label, ' ', h('code', {}, key)),
      h('p', {}, help),
      h('div', { class: 'choices' }, choice('client', 'Client decides'), choice('on', 'On'), choice('off', 'Off')));
  });
  const nameIn = h('input', { type: 'text', id: 'cfg-name', value: c.name || '', required: true, maxlength: '200' });
  const err = h('p', { class: 'error-text', role: 'alert' });
  const btn = h('button', { type: 'submit' }, 'Save settings');
  const form = h('form', { class: 'stack', id: 'settings-form', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const settings = {};
    for (const [key] of SETTINGS) {
      const v = form.querySelector(`input[name="${key}"]:checked`).value;
      settings[key] = v === 'on' ? true : v === 'off' ? false : null;
    }
    btn.disabled = true;
    try {
      await api('PATCH', '/api/v1/sync-configs/' + encodeURIComponent(configId(c)), { name: nameIn.value.trim(), settings });
      flash('Settings saved. The server applies them to every request of this synchronization.');
      onSaved();
    } catch (e) {
      if (e.status !== 401) err.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  } },
  h('label', { for: 'cfg-name' }, 'Name'), nameIn,
  h('p', { class: 'hint' }, 'Each setting: "Client decides" uses adc.yaml of the connected client; On or Off overrides it, and the server enforces it on every request.'),
  h('div', { class: 'settings-grid' }, fields), err, h('div', { class: 'actions' }, btn));
  return form;
}

function statsCells(r) {
  const s = runStats(r);
  return ['created', 'updated', 'deleted', 'disabled', 'unchanged', 'skipped', 'failed']
    .map((k) => h('td', { class: 'num', 'data-stat': k }, s[k] === undefined ? '—' : s[k]));
}

/* A run that synced groups reports their counts (docs/product.md section 10); others show a dash. */
function groupsCell(r) {
  const s = runStats(r);
  if (s.groups_created === undefined) return h('td', { class: 'muted', 'data-stat': 'groups' }, '—');
  return h('td', { class: 'nowrap', 'data-stat': 'groups' },
    `${s.groups_created} created, ${s.groups_updated} updated, ${s.groups_deleted} deleted`
    + (s.groups_failed ? `, ${s.groups_failed} failed` : '')
    + `; members +${s.members_added} −${s.members_removed}`);
}

function runErrors(r) {
  const errs = r.errors || [];
  if (!errs.length) return h('span', { class: 'muted' }, 'none');
  return h('details', {}, h('summary', {}, `${errs.length} error${errs.length === 1 ? '' : 's'}`),
    h('ul', { class: 'errors' }, errs.map((e) => h('li', {}, typeof e === 'string' ? e : (e.message || JSON.stringify(e))))));
}

/* Why a run started (docs/product.md section 9). */
const TRIGGERS = { manual: 'Sync now', schedule: 'Schedule', imp: 'adc imp', startup: 'Client start' };

/* The full-sync schedule and whether live changes flow: interval, next full sync, the client's
 * watcher and its last applied change. */
function scheduleBox(c, onSaved) {
  const live = h('dl', { class: 'props', id: 'live-status' });
  const draw = (cfg) => {
    const l = cfg.live;
    const flowing = l && l.flowing;
    live.replaceChildren(
      h('dt', {}, 'Next full sync'), h('dd', { id: 'next-sync' }, cfg.sync_interval_minutes > 0 ? fmtTime(cfg.next_sync) : 'no schedule'),
      h('dt', {}, 'Live changes'), h('dd', { id: 'live-flowing' },
        flowing ? badge('Flowing', 'ok') : badge(l ? (l.state === 'paused' ? 'Paused' : 'Not flowing') : 'Not reported', l && l.state === 'paused' ? 'bad' : 'neutral'),
        l ? ` (${l.watch})` : '', l && l.detail ? h('span', { class: 'hint' }, ' ', l.detail) : null),
      h('dt', {}, 'Last change applied'), h('dd', { id: 'live-last' },
        l && l.last_change ? `${l.last_change}, ${fmtTime(l.last_change_at)} (${l.changes_applied} since the client started)` : 'none yet'));
  };
  draw(c);
  const input = h('input', { type: 'number', id: 'sync-interval', min: '0', max: String(31 * 24 * 60), step: '1', value: String(c.sync_interval_minutes ?? 60) });
  const err = h('p', { class: 'error-text', role: 'alert' });
  const btn = h('button', { type: 'submit', class: 'secondary' }, 'Save interval');
  const form = h('form', { class: 'actions', id: 'schedule-form', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    try {
      const r = await api('PATCH', '/api/v1/sync-configs/' + encodeURIComponent(configId(c)), { sync_interval_minutes: parseInt(input.value, 10) });
      draw(r);
      flash(r.sync_interval_minutes > 0 ? `A full sync runs every ${r.sync_interval_minutes} minutes.` : 'No scheduled full sync.');
      onSaved();
    } catch (e) {
      if (e.status !== 401) err.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  } }, h('label', { for: 'sync-interval' }, 'Full sync every (minutes, 0 = never)'), ' ', input, ' ', btn);
  const box = h('div', {}, form, err, live);
  box.draw = draw;
  return box;
}

function runsTable(runs) {
  if (!runs.length) return h('p', { class: 'muted', id: 'runs' }, 'No run yet.');
  return h('div', { class: 'table-wrap' }, h('table', { id: 'runs' },
    h('thead', {}, h('tr', {},
      ['Status', 'Started', 'Finished', 'Dry run', 'Trigger'].map((t) => h('th', { scope: 'col' }, t)),
      ['Created', 'Updated', 'Deleted', 'Disabled', 'Unchanged', 'Skipped', 'Failed'].map((t) => h('th', { scope: 'col', class: 'num' }, t)),
      h('th', { scope: 'col' }, 'Groups'), h('th', { scope: 'col' }, 'Errors'))),
    h('tbody', {}, runs.map((r) => h('tr', { 'data-run-id': runId(r) },
      h('td', {}, runBadge(r.status)), h('td', { class: 'nowrap' }, fmtTime(pick(r, 'started', 'started_at', 'created', 'created_at'))),
      h('td', { class: 'nowrap' }, fmtTime(pick(r, 'finished', 'finished_at'))), h('td', {}, r.dry_run ? 'yes' : 'no'),
      h('td', { 'data-trigger': r.trigger || '' }, TRIGGERS[r.trigger] || r.trigger || '—'),
      statsCells(r), groupsCell(r), h('td', {}, runErrors(r)))))));
}

function confirmDialog(title, text, confirmLabel, onConfirm, extra) {
  const err = h('p', { class: 'error-text', role: 'alert' });
  const dlg = h('dialog', { 'aria-labelledby': 'dlg-h' },
    h('h2', { id: 'dlg-h' }, title), h('p', {}, text), extra || null, err,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        try { await onConfirm(); dlg.close(); dlg.remove(); } catch (e) { if (e.status !== 401) err.textContent = e.message; }
      } }, confirmLabel),
      h('button', { type: 'button', class: 'secondary', autofocus: true, onclick: () => { dlg.close(); dlg.remove(); } }, 'Cancel')));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

async function viewConfig(appId, seq) {
  setNav('configs');
  const base = '/api/v1/sync-configs/' + encodeURIComponent(appId);
  const c = await api('GET', base);
  const runs = listOf(await api('GET', base + '/runs'), 'runs', 'items');

  let running = false, connected = !!c.connected;
  const syncHint = h('p', { class: 'hint', id: 'sync-hint' });
  const status = h('span', { id: 'agent-status' }, agentBadge(c));
  const agentsBox = h('div', { id: 'agents' });
  const schedule = scheduleBox(c, () => {});
  const drawAgents = (cfg) => {
    const agents = cfg.agents || [];
    schedule.draw(cfg);
    status.replaceChildren(agentBadge(cfg));
    agentsBox.replaceChildren(agents.length === 0
      ? h('p', { class: 'muted' }, 'No ad-connect client is connected. Install and start adc with this Application ID (see below).')
      : h('table', {}, h('thead', {}, h('tr', {}, ['Host', 'Version', 'Connected since', 'Last seen', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, agents.map((a) => h('tr', {}, h('td', {}, a.host || '—'), h('td', {}, a.version || '—'),
          h('td', {}, fmtTime(a.connected_since)), h('td', {}, fmtTime(a.last_seen)),
          h('td', {}, a.connected === false ? badge('Disconnected', 'bad') : badge('Connected', 'ok')))))));
    connected = !!cfg.connected;
    syncBtn.disabled = running || !connected;
    syncHint.textContent = connected ? '' : 'No ad-connect client is connected: start adc run with this Application ID first.';
  };

  /* Sync now: POST .../sync, then poll GET /api/v1/runs/{id} until it ends. */
  const runBox = h('div', { id: 'run-status', 'aria-live': 'polite' });
  const dry = h('input', { type: 'checkbox', id: 'sync-dry' });
  const runsBox = h('div', {}, runsTable(runs));
  const refreshRuns = async () => {
    const rs = listOf(await api('GET', base + '/runs'), 'runs', 'items');
    runsBox.replaceChildren(runsTable(rs));
  };
  const drawRun = (r) => {
    const s = runStats(r);
    runBox.replaceChildren(h('div', { class: 'panel' },
      h('p', {}, 'Run ', h('code', {}, runId(r)), ': ', runBadge(r.status), r.dry_run ? ' (dry run)' : ''),
      h('p', { class: 'counts' }, ['created', 'updated', 'deleted', 'disabled', 'unchanged', 'skipped', 'failed']
        .map((k) => `${k} ${s[k] === undefined ? 0 : s[k]}`).join(', ')),
      (r.errors && r.errors.length) ? runErrors(r) : null));
  };
  const pollRun = async (id) => {
    if (seq !== state.routeSeq) return;
    try {
      const r = await api('GET', '/api/v1/runs/' + encodeURIComponent(id));
      drawRun(r);
      if (r.status === 'succeeded' || r.status === 'failed') {
        running = false;
        syncBtn.disabled = !connected;
        await refreshRuns();
        return;
      }
    } catch (e) {
      if (e.status === 401) return;
      runBox.replaceChildren(h('p', { class: 'error-text' }, e.message));
    }
    later(() => pollRun(id), RUN_POLL_MS, seq);
  };
  const syncBtn = h('button', { type: 'button', id: 'sync-now', 'aria-describedby': 'sync-hint', onclick: async () => {
    syncBtn.disabled = true;
    running = true;
    try {
      const r = await api('POST', base + '/sync', { dry_run: dry.checked });
      drawRun({ run_id: runId(r), status: r.status || 'queued', dry_run: dry.checked });
      pollRun(runId(r));
    } catch (e) {
      if (e.status === 401) return;
      runBox.replaceChildren(h('p', { class: 'error-text', role: 'alert' }, e.message));
      running = false;
      syncBtn.disabled = !connected;
    }
  } }, 'Sync now');

  const refreshStatus = async () => {
    try {
      drawAgents(await api('GET', base));
    } catch (e) { if (e.status === 401) return; }
    later(refreshStatus, STATUS_REFRESH_MS, seq);
  };
  drawAgents(c);
  later(refreshStatus, STATUS_REFRESH_MS, seq);
  /* A run already in progress (started elsewhere) is followed too. */
  const active = runs.find((r) => r.status === 'queued' || r.status === 'running');
  if (active) { running = true; syncBtn.disabled = true; drawRun(active); later(() => pollRun(runId(active)), RUN_POLL_MS, seq); }

  const secretBox = h('div', { id: 'rotated' });
  const rotate = () => confirmDialog('Rotate the Secret Token?',
    'A new Secret Token is made and the current one stops working at once: connected clients are cut off until adc.cfg holds the new token.',
    'Rotate secret', async () => {
      const r = await api('POST', base + '/secret');
      secretBox.replaceChildren(secretWarning(), copyRow('new Secret Token', r.secret, 'rotated-secret'));
      flash('The Secret Token was rotated. Update adc.cfg on every client.');
    });
  const del = () => confirmDialog(`Delete "${c.name}"?`,
    'The synchronization, its credentials and its run history are deleted. Its users stay in the directory service, owned by no synchronization. This cannot be undone.',
    'Delete', async () => {
      const r = await api('DELETE', base);
      const kept = r && typeof r.users_released === 'number'
        ? ` Its ${r.users_released} user${r.users_released === 1 ? '' : 's'} stay, now owned by no synchronization (provider ${r.users_provider || 'local'}).` : '';
      flash(`"${c.name}" was deleted.` + kept);
      location.hash = '#/configs';
    });

  return render(c.name || appId,
    h('dl', { class: 'props' },
      h('dt', {}, 'Application ID'), h('dd', {}, copyRow('Application ID', appId, 'app-id')),
      h('dt', {}, 'Client'), h('dd', {}, status),
      h('dt', {}, 'Created'), h('dd', {}, fmtTime(pick(c, 'created', 'created_at')))),
    h('section', { 'aria-labelledby': 'sync-h' }, h('h2', { id: 'sync-h' }, 'Sync now'),
      h('div', { class: 'actions' }, syncBtn, h('span', {}, dry, ' ', h('label', { for: 'sync-dry' }, 'Preview only (dry run)'))),
      syncHint, runBox),
    h('section', { 'aria-labelledby': 'agents-h' }, h('h2', { id: 'agents-h' }, 'Clients'), agentsBox),
    h('section', { 'aria-labelledby': 'schedule-h' }, h('h2', { id: 'schedule-h' }, 'Schedule and live changes'), schedule),
    h('section', { 'aria-labelledby': 'settings-h' }, h('h2', { id: 'settings-h' }, 'Settings'),
      settingsForm(c, () => {})),
    h('section', { 'aria-labelledby': 'runs-h' }, h('h2', { id: 'runs-h' }, 'Run history'), runsBox),
    h('section', { 'aria-labelledby': 'secret-h' }, h('h2', { id: 'secret-h' }, 'Secret Token'),
      h('p', {}, 'The Secret Token was shown once, when it was made. Lost or exposed? Rotate it.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'rotate', onclick: rotate }, 'Rotate secret')),
      secretBox),
    h('details', {}, h('summary', {}, 'Installation instructions for this synchronization'), installSteps(appId)),
    h('section', { 'aria-labelledby': 'delete-h' }, h('h2', { id: 'delete-h' }, 'Delete'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', id: 'delete', onclick: del }, 'Delete synchronization'))));
}

/* ---------- users ---------- */

function scimString(s) { return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }

async function viewUsers(seq) {
  setNav('users');
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  const name = q.get('name') || '', provider = q.get('provider') || '', active = q.get('active') || '';
  const start = Math.max(1, parseInt(q.get('start') || '1', 10) || 1);

  const clauses = [];
  if (name) clauses.push(`userName co ${scimString(name)}`);
  if (provider) clauses.push(`${SCIM_SYNC_EXT}:provider eq ${scimString(provider)}`);
  if (active) clauses.push(`active eq ${active === 'yes' ? 'true' : 'false'}`);
  const params = new URLSearchParams({ startIndex: String(start), count: String(PAGE_SIZE) });
  if (clauses.length) params.set('filter', clauses.join(' and '));
  const [list, configs] = await Promise.all([
    api('GET', '/scim/v2/Users?' + params.toString()),
    api('GET', '/api/v1/sync-configs').then((d) => listOf(d, 'sync_configs', 'configs', 'items')),
  ]);
  const users = list.Resources || [];
  const total = list.totalResults || 0;
  const cfgName = Object.fromEntries(configs.map((c) => [configId(c), c.name]));

  const nameIn = h('input', { type: 'search', id: 'q-name', value: name });
  const provSel = h('select', { id: 'q-provider' },
    h('option', { value: '' }, 'Any'), h('option', { value: 'local', selected: provider === 'local' }, 'local (created in the cloud)'),
    configs.map((c) => h('option', { value: configId(c), selected: provider === configId(c) }, c.name + ' (' + configId(c) + ')')));
  const actSel = h('select', { id: 'q-active' }, h('option', { value: '' }, 'Any'),
    h('option', { value: 'yes', selected: active === 'yes' }, 'Enabled'), h('option', { value: 'no', selected: active === 'no' }, 'Disabled'));
  const go = (s) => {
    const p = new URLSearchParams();
    if (nameIn.value) p.set('name', nameIn.value);
    if (provSel.value) p.set('provider', provSel.value);
    if (actSel.value) p.set('active', actSel.value);
    if (s > 1) p.set('start', String(s));
    location.hash = '#/users?' + p.toString();
  };
  const form = h('form', { class: 'inline', role: 'search', onsubmit: (ev) => { ev.preventDefault(); go(1); } },
    h('div', { class: 'field' }, h('label', { for: 'q-name' }, 'Name contains'), nameIn),
    h('div', { class: 'field' }, h('label', { for: 'q-provider' }, 'Provider'), provSel),
    h('div', { class: 'field' }, h('label', { for: 'q-active' }, 'Enabled'), actSel),
    h('button', { type: 'submit' }, 'Search'));

  const provCell = (p) => p === 'local' ? 'local' : cfgName[p] ? `${cfgName[p]}` : (p || '—');
  const table = users.length === 0 ? h('p', { class: 'muted' }, 'No user matches.')
    : h('table', { id: 'users' },
      h('caption', { class: 'muted' }, `${start}–${start + users.length - 1} of ${total}`),
      h('thead', {}, h('tr', {}, ['User name', 'Display name', 'Enabled', 'Provider', 'External ID', 'Modified'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, users.map((u) => {
        const ext = u[SCIM_SYNC_EXT] || {};
        return h('tr', {}, h('td', {}, h('a', { href: '#/users/' + encodeURIComponent(u.id) }, u.userName)),
          h('td', {}, u.displayName || (u.name && u.name.formatted) || '—'),
          h('td', {}, u.active === false ? badge('Disabled', 'bad') : badge('Enabled', 'ok')),
          h('td', { title: ext.provider || '' }, provCell(ext.provider)), h('td', { class: 'mono' }, u.externalId || '—'),
          h('td', {}, fmtTime(u.meta && u.meta.lastModified)));
      })));
  const pager = h('div', { class: 'pager' },
    start > 1 ? h('button', { type: 'button', class: 'secondary', onclick: () => go(Math.max(1, start - PAGE_SIZE)) }, 'Previous') : null,
    start + users.length - 1 < total ? h('button', { type: 'button', class: 'secondary', onclick: () => go(start + PAGE_SIZE) }, 'Next') : null);
  void seq;
  return render('Users', form, table, pager);
}

/* The provider of a user or group as people read it: "local" or the synchronization's name. */
function providerText(p, cfgName) {
  return p === 'local' ? 'local' : cfgName[p] ? cfgName[p] : (p || '—');
}

async function configNames() {
  const configs = await api('GET', '/api/v1/sync-configs').then((d) => listOf(d, 'sync_configs', 'configs', 'items'));
  return { configs, cfgName: Object.fromEntries(configs.map((c) => [configId(c), c.name])) };
}

/* One user with the groups it is a direct member of (the member index answers the filter). */
async function viewUser(id, seq) {
  setNav('users');
  const filter = `members.value eq ${scimString(id)}`;
  const [u, groups, names] = await Promise.all([
    api('GET', '/scim/v2/Users/' + encodeURIComponent(id)),
    api('GET', '/scim/v2/Groups?' + new URLSearchParams({ filter, excludedAttributes: 'members', count: '1000' }).toString()),
    configNames(),
  ]);
  const ext = u[SCIM_SYNC_EXT] || {};
  const emails = (u.emails || []).map((e) => e.value).filter(Boolean).join(', ');
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Display name'), h('dd', {}, u.displayName || (u.name && u.name.formatted) || '—'),
    h('dt', {}, 'Enabled'), h('dd', {}, u.active === false ? badge('Disabled', 'bad') : badge('Enabled', 'ok')),
    h('dt', {}, 'Email'), h('dd', {}, emails || '—'),
    h('dt', {}, 'Provider'), h('dd', { title: ext.provider || '' }, providerText(ext.provider, names.cfgName)),
    h('dt', {}, 'External ID'), h('dd', { class: 'mono' }, u.externalId || '—'),
    h('dt', {}, 'ID'), h('dd', { class: 'mono' }, u.id),
    h('dt', {}, 'Modified'), h('dd', {}, fmtTime(u.meta && u.meta.lastModified)));
  const list = groups.Resources || [];
  const table = list.length === 0 ? h('p', { class: 'muted', id: 'user-groups' }, 'Not a member of any group.')
    : h('table', { id: 'user-groups' },
      h('thead', {}, h('tr', {}, ['Group', 'Members', 'Provider'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map((g) => h('tr', {},
        h('td', {}, h('a', { href: '#/groups/' + encodeURIComponent(g.id) }, g.displayName)),
        h('td', {}, String((g[SCIM_GROUP_EXT] || {}).memberCount ?? '—')),
        h('td', {}, providerText((g[SCIM_GROUP_EXT] || {}).provider, names.cfgName))))));
  void seq;
  return render(u.userName, facts, h('h2', {}, 'Groups'), table,
    h('div', { class: 'actions' }, h('a', { href: '#/users' }, 'Back to the users')));
}

/* ---------- groups ---------- */

async function viewGroups(seq) {
  setNav('groups');
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  const name = q.get('name') || '', provider = q.get('provider') || '';
  const start = Math.max(1, parseInt(q.get('start') || '1', 10) || 1);
  const clauses = [];
  if (name) clauses.push(`displayName co ${scimString(name)}`);
  if (provider) clauses.push(`${SCIM_GROUP_EXT}:provider eq ${scimString(provider)}`);
  /* Members are never fetched for the list: the count comes with each group. */
  const params = new URLSearchParams({ startIndex: String(start), count: String(PAGE_SIZE), excludedAttributes: 'members' });
  if (clauses.length) params.set('filter', clauses.join(' and '));
  const [list, names] = await Promise.all([api('GET', '/scim/v2/Groups?' + params.toString()), configNames()]);
  const groups = list.Resources || [];
  const total = list.totalResults || 0;

  const nameIn = h('input', { type: 'search', id: 'g-name', value: name });
  const provSel = h('select', { id: 'g-provider' },
    h('option', { value: '' }, 'Any'), h('option', { value: 'local', selected: provider === 'local' }, 'local (created in the cloud)'),
    names.configs.map((c) => h('option', { value: configId(c), selected: provider === configId(c) }, c.name + ' (' + configId(c) + ')')));
  const go = (s) => {
    const p = new URLSearchParams();
    if (nameIn.value) p.set('name', nameIn.value);
    if (provSel.value) p.set('provider', provSel.value);
    if (s > 1) p.set('start', String(s));
    location.hash = '#/groups?' + p.toString();
  };
  const form = h('form', { class: 'inline', role: 'search', onsubmit: (ev) => { ev.preventDefault(); go(1); } },
    h('div', { class: 'field' }, h('label', { for: 'g-name' }, 'Name contains'), nameIn),
    h('div', { class: 'field' }, h('label', { for: 'g-provider' }, 'Provider'), provSel),
    h('button', { type: 'submit' }, 'Search'));
  const table = groups.length === 0 ? h('p', { class: 'muted' }, 'No group matches.')
    : h('table', { id: 'groups' },
      h('caption', { class: 'muted' }, `${start}–${start + groups.length - 1} of ${total}`),
      h('thead', {}, h('tr', {}, ['Name', 'Members', 'Provider', 'External ID', 'Modified'].map((t) =>
        h('th', { scope: 'col', class: t === 'Members' ? 'num' : null }, t)))),
      h('tbody', {}, groups.map((g) => {
        const ext = g[SCIM_GROUP_EXT] || {};
        return h('tr', {}, h('td', {}, h('a', { href: '#/groups/' + encodeURIComponent(g.id) }, g.displayName)),
          h('td', { class: 'num' }, String(ext.memberCount ?? '—')),
          h('td', { title: ext.provider || '' }, providerText(ext.provider, names.cfgName)),
          h('td', { class: 'mono' }, g.externalId || '—'), h('td', {}, fmtTime(g.meta && g.meta.lastModified)));
      })));
  const pager = h('div', { class: 'pager' },
    start > 1 ? h('button', { type: 'button', class: 'secondary', onclick: () => go(Math.max(1, start - PAGE_SIZE)) }, 'Previous') : null,
    start + groups.length - 1 < total ? h('button', { type: 'button', class: 'secondary', onclick: () => go(start + PAGE_SIZE) }, 'Next') : null);
  void seq;
  return render('Groups', form, table, pager);
}

/* One group and its members (users and nested groups), a page at a time from
 * /api/v1/groups/{id}/members (a group may have 100,000), with a search on the members' names
 * that the server runs. #/groups/<id>?count=N sets the page size. */
async function viewGroup(id, seq) {
  setNav('groups');
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  const count = Math.min(1000, Math.max(1, parseInt(q.get('count') || '', 10) || MEMBERS_PAGE));
  const [g, names] = await Promise.all([
    api('GET', '/scim/v2/Groups/' + encodeURIComponent(id) + '?excludedAttributes=members'),
    configNames()]);
  const ext = g[SCIM_GROUP_EXT] || {};
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Members'), h('dd', { id: 'member-count' }, String(ext.memberCount ?? '—')),
    h('dt', {}, 'Provider'), h('dd', { title: ext.provider || '' }, providerText(ext.provider, names.cfgName)),
    h('dt', {}, 'External ID'), h('dd', { class: 'mono' }, g.externalId || '—'),
    h('dt', {}, 'ID'), h('dd', { class: 'mono' }, g.id),
    h('dt', {}, 'Modified'), h('dd', {}, fmtTime(g.meta && g.meta.lastModified)));
  const back = h('div', { class: 'actions' }, h('a', { href: '#/groups' }, 'Back to the groups'));
  if (ext.memberCount === 0) {
    void seq;
    return render(g.displayName, facts, h('h2', {}, 'Members'),
      h('p', { class: 'muted', id: 'members' }, 'This group has no members.'), back);
  }
  const filterIn = h('input', { type: 'search', id: 'm-name' });
  const body = h('tbody', {});
  const caption = h('caption', { class: 'muted' });
  const prev = h('button', { type: 'button', class: 'secondary', id: 'm-prev' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'm-next' }, 'Next');
  const err = h('p', { class: 'error-text', role: 'alert' });
  const showError = (e) => { if (!(e instanceof ApiError && e.status === 401)) err.textContent = e.message; };
  let start = 1, asked = 0;
  const load = async () => {
    err.textContent = '';
    const mine = ++asked;
    const params = new URLSearchParams({ startIndex: String(start), count: String(count) });
    if (filterIn.value) params.set('search', filterIn.value);
    const page = await api('GET', '/api/v1/groups/' + encodeURIComponent(id) + '/members?' + params.toString());
    if (mine !== asked) return; /* a newer search or page is on its way */
    const rows = page.Resources || [];
    const total = page.totalResults || 0;
    caption.textContent = rows.length ? `${start}–${start + rows.length - 1} of ${total}` : (filterIn.value ? 'No member matches.' : `0 of ${total}`);
    body.replaceChildren(...rows.map((m) => h('tr', {},
      h('td', {}, h('a', { href: (m.type === 'Group' ? '#/groups/' : '#/users/') + encodeURIComponent(m.value) }, m.display || m.value)),
      h('td', {}, m.type === 'Group' ? badge('Group', 'neutral') : 'User'),
      h('td', { class: 'mono' }, m.value))));
    prev.hidden = start <= 1;
    next.hidden = start + rows.length - 1 >= total;
  };
  let timer = null;
  filterIn.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { start = 1; load().catch(showError); }, 200);
  });
  prev.addEventListener('click', () => { start = Math.max(1, start - count); load().catch(showError); });
  next.addEventListener('click', () => { start += count; load().catch(showError); });
  await load();
  const table = h('div', {}, h('div', { class: 'field' }, h('label', { for: 'm-name' }, 'Name contains'), filterIn),
    h('table', { id: 'members' }, caption,
      h('thead', {}, h('tr', {}, ['Member', 'Type', 'ID'].map((t) => h('th', { scope: 'col' }, t)))), body),
    h('div', { class: 'pager' }, prev, next), err);
  void seq;
  return render(g.displayName, facts, h('h2', {}, 'Members'), table, back);
}

/* ---------- audit log ---------- */

function detailText(d) {
  if (d === undefined || d === null) return '';
  return typeof d === 'string' ? d : JSON.stringify(d);
}

async function viewAudit(seq) {
  setNav('audit');
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  const before = q.get('before');
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (before) params.set('before', before);
  const [data, configs] = await Promise.all([
    api('GET', '/api/v1/audit?' + params.toString()),
    api('GET', '/api/v1/sync-configs').then((d) => listOf(d, 'sync_configs', 'configs', 'items')),
  ]);
  const entries = listOf(data, 'entries', 'events', 'items');
  const cfgName = Object.fromEntries(configs.map((c) => [configId(c), c.name]));
  /* "sync:<app_id>" reads better as the synchronization's name; the ID stays in the tooltip. */
  const who = (a) => {
    const m = /^sync:(.+)$/.exec(a || '');
    return m && cfgName[m[1]] ? h('span', { title: a }, 'sync: ' + cfgName[m[1]]) : (a || '—');
  };
  const table = entries.length === 0 ? h('p', { class: 'muted' }, 'Nothing recorded yet.')
    : h('table', { id: 'audit' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Target', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, entries.map((e) => h('tr', {},
        h('td', { class: 'nowrap' }, fmtTime(pick(e, 'at', 'time', 'created'))), h('td', {}, who(e.actor || e.who)),
        h('td', {}, e.action || e.what || '—'), h('td', { class: 'mono' }, e.target || e.object || '—'),
        h('td', {}, detailText(pick(e, 'detail', 'details')))))));
  const last = entries[entries.length - 1];
  const pager = h('div', { class: 'pager' },
    before ? h('a', { href: '#/audit' }, 'Newest') : null,
    entries.length === PAGE_SIZE && last && pick(last, 'seq', 'id') !== undefined
      ? h('a', { href: '#/audit?before=' + encodeURIComponent(pick(last, 'seq', 'id')) }, 'Older') : null);
  void seq;
  return render('Audit log', h('p', { class: 'hint' }, 'Every change to users and synchronizations: who, what, when. Newest first.'), table, pager);
}

/* ---------- start ---------- */

async function start() {
  $('#signout').addEventListener('click', signOut);
  /* The skip link must not become a route (#main): move the focus instead. */
  $('.skip').addEventListener('click', (ev) => { ev.preventDefault(); $('#main').focus(); });
  /* A message survives the navigation it announces ("deleted" shown on the list), then goes. */
  window.addEventListener('hashchange', () => {
    if (state.flashKeep) state.flashKeep = false; else flash('');
    route();
  });
  try {
    state.session = await api('GET', '/api/v1/session');
  } catch (e) {
    state.session = null;
  }
  route();
}

start();
