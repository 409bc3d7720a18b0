// Browser test of the adc-server web console: playwright-core drives Debian's chromium
// (headless) against a real adc-server, a real `adc run` agent and a real slapd, all started
// by tests/integration/test_console.py, which passes everything in the environment:
//   ADC_CONSOLE_URL          the server under test (http://127.0.0.1:PORT)
//   ADC_CONSOLE_EXPIRY_URL   a second server with --session-idle 2, for the expiry test
//   ADC_CONSOLE_ADMIN / ADC_CONSOLE_PASSWORD   an administrator account on both
//   ADC_BIN, ADC_AGENT_DIR   the adc binary, and a directory holding adc.yaml for the agent
//   ADC_SCREENSHOT_DIR       where the screenshots of the main pages go (docs/screenshots)
//   ADC_EXPECTED_USERS       how many users the directory holds (the sync must create them)
//   ADC_CONSOLE_DOWNLOAD(_SHA256)  the archive the server offers (serve --downloads) and its digest
//   CHROMIUM                 the browser (default /usr/bin/chromium)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) { console.error(`console.test.mjs: ${k} is not set`); process.exit(2); }
  return v;
};
const BASE = env('ADC_CONSOLE_URL');
const EXPIRY_BASE = env('ADC_CONSOLE_EXPIRY_URL');
const ADMIN = env('ADC_CONSOLE_ADMIN');
const PASSWORD = env('ADC_CONSOLE_PASSWORD');
const ADC_BIN = env('ADC_BIN');
const AGENT_DIR = env('ADC_AGENT_DIR');
const SHOTS = env('ADC_SCREENSHOT_DIR');
const EXPECTED_USERS = Number(env('ADC_EXPECTED_USERS'));
const DOWNLOAD = env('ADC_CONSOLE_DOWNLOAD');
const DOWNLOAD_SHA256 = env('ADC_CONSOLE_DOWNLOAD_SHA256');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const TIMEOUT = 20000;

const children = [];
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adc-console-chromium-'));
let context;
let page;
let failed = false;
let stepNo = 0;

async function step(name, fn) {
  stepNo++;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok ${stepNo} - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed = true;
    console.log(`not ok ${stepNo} - ${name}\n${String(e.stack || e).replace(/^/gm, '  # ')}`);
    if (page) {
      const shot = path.join(os.tmpdir(), `adc-console-failure-${process.pid}.png`);
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.log(`  # screenshot of the failure: ${shot}`);
    }
    throw e;
  }
}

async function shoot(name, fullPage = false) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name), fullPage });
}

function basic(appId, secret) {
  return 'Basic ' + Buffer.from(`${appId}:${secret}`).toString('base64');
}

async function scimCreate(appId, secret, userName) {
  const r = await fetch(BASE + '/scim/v2/Users', {
    method: 'POST',
    headers: { 'Authorization': basic(appId, secret), 'Content-Type': 'application/scim+json' },
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, active: true }),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function signIn(base, name, password) {
  await page.goto(base + '/');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function settingChoice(key, choice) {
  return page.locator(`fieldset[data-setting="${key}"]`).getByLabel(choice, { exact: true });
}

function startAgent(appId, secret) {
  const cfg = path.join(AGENT_DIR, 'adc.cfg');
  const secretFile = path.join(AGENT_DIR, 'secret');
  fs.writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
  // The adc.cfg the console shows, with the paths of this test.
  const shown = fs.readFileSync(path.join(AGENT_DIR, 'shown-adc.cfg'), 'utf8')
    .replace(/^secret_file = .*$/m, `secret_file = ${secretFile}`)
    .replace(/^yaml = .*$/m, `yaml = ${path.join(AGENT_DIR, 'adc.yaml')}`);
  fs.writeFileSync(cfg, shown, { mode: 0o600 });
  const log = fs.openSync(path.join(AGENT_DIR, 'adc-run.log'), 'a');
  const child = spawn(ADC_BIN, ['-C', cfg, '-v', 'run'], { stdio: ['ignore', log, log] });
  children.push(child);
  return child;
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] || await context.newPage();
  // The console must make no third-party request: every request goes to the server under test.
  const foreign = [];
  context.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(BASE) && !u.startsWith(EXPIRY_BASE) && !u.startsWith('data:') && !u.startsWith('about:')) foreign.push(u);
  });
  const cspViolations = [];
  page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text()); });

  let appId, secret, agent;

  await step('the console asks to sign in', async () => {
    await page.goto(BASE + '/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shoot('sign-in.png');
  });

  await step('a wrong password is refused, slowly', async () => {
    const t0 = Date.now();
    await signIn(BASE, ADMIN, 'not the password at all');
    await page.getByText('Wrong name or password.').waitFor();
    assert.ok(Date.now() - t0 >= 900, `a failed sign-in answered in ${Date.now() - t0} ms; it must be slowed down`);
    const cookies = await context.cookies(BASE);
    assert.equal(cookies.length, 0, 'no cookie after a failed sign-in');
  });

  await step('sign in with the keyboard alone: HttpOnly SameSite=Strict session cookie', async () => {
    await page.goto(BASE + '/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // The name field has the focus; Tab reaches the password, Enter submits.
    await page.keyboard.type(ADMIN);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Synchronizations' }).waitFor();
    // The focus moves to the new page's heading, for screen readers.
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');
    // The skip link (the first thing Tab reaches on a fresh page) moves the focus to the
    // content and stays on this page.
    await page.locator('.skip').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await page.getByRole('heading', { name: 'Synchronizations' }).waitFor();
    const [c] = await context.cookies(BASE);
    assert.equal(c.name, 'adc_session');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/');
    assert.ok(c.expires > Date.now() / 1000, 'the cookie expires');
    await page.getByText(`Signed in as ${ADMIN}`).waitFor();
  });

  await step('add a synchronization: Application ID and Secret Token shown once', async () => {
    await page.getByRole('link', { name: 'Add synchronization' }).click();
    await page.getByLabel('Name').fill('Head office');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Synchronization created' }).waitFor();
    appId = (await page.locator('#created-app-id').textContent()).trim();
    secret = (await page.locator('#created-secret').textContent()).trim();
    assert.match(appId, /^[0-9a-f-]{16,}$/);
    assert.ok(secret.length >= 32, 'a long secret');
    await page.getByText('This is the only time it is shown').waitFor();
    const cfg = await page.locator('#adc-cfg').textContent();
    assert.match(cfg, new RegExp(`^app_id = ${appId}$`, 'm'));
    assert.match(cfg, new RegExp(`^server = ${BASE}$`, 'm'));
    fs.writeFileSync(path.join(AGENT_DIR, 'shown-adc.cfg'), cfg);
    // The install steps link to the archive the server offers, with its SHA-256, and use it
    // instead of building from source.
    const link = page.locator('#adc-download');
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), `/downloads/${DOWNLOAD}`);
    assert.equal((await page.locator('#adc-download-sha256').textContent()).trim(), DOWNLOAD_SHA256);
    const unpack = await page.locator('#adc-unpack').textContent();
    assert.ok(unpack.includes(`curl -fLO ${BASE}/downloads/${DOWNLOAD}`), unpack);
    assert.ok(unpack.includes(`echo '${DOWNLOAD_SHA256}  ${DOWNLOAD}' | sha256sum -c`), unpack);
    assert.ok(!(await page.content()).includes('meson setup'), 'no build from source');
    const file = await page.request.get(`${BASE}/downloads/${DOWNLOAD}`);
    assert.equal(file.status(), 200);
    assert.equal(crypto.createHash('sha256').update(await file.body()).digest('hex'), DOWNLOAD_SHA256);
    await page.getByRole('button', { name: 'Copy Secret Token' }).click();
    await page.getByText(/Copied to the clipboard|Selected: press Ctrl\+C/).waitFor();
    await shoot('add-synchronization.png', true);
  });

  await step('after a reload the secret is gone for good', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Head office' }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is not on the page after a reload');
    const api = await page.request.get(`${BASE}/api/v1/sync-configs/${appId}`);
    assert.equal(api.status(), 200);
    assert.ok(!(await api.text()).includes(secret), 'the API never returns the secret again');
  });

  await step('the list shows the configuration, disconnected', async () => {
    await page.getByRole('link', { name: 'Synchronizations' }).click();
    const row = page.locator(`tr[data-app-id="${appId}"]`);
    await row.getByText('Disconnected').waitFor();
    await row.getByRole('link', { name: 'Head office' }).waitFor();
  });

  await step('a state-changing request with the cookie but without the CSRF token is refused', async () => {
    const r = await page.request.patch(`${BASE}/api/v1/sync-configs/${appId}`, { data: { name: 'hijacked' } });
    assert.equal(r.status(), 403);
    const g = await page.request.get(`${BASE}/api/v1/sync-configs/${appId}`);
    assert.equal((await g.json()).name, 'Head office');
  });

  await step('setting no-create on makes the server refuse SCIM creates with the configuration\'s credentials', async () => {
    await page.locator(`tr[data-app-id="${appId}"]`).getByRole('link', { name: 'Head office' }).click();
    await (await settingChoice('no-create', 'On')).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    const refused = await scimCreate(appId, secret, 'probe.user@example.org');
    assert.equal(refused.status, 403, `SCIM create under no-create: ${JSON.stringify(refused.body)}`);
    await page.reload();
    assert.ok(await (await settingChoice('no-create', 'On')).isChecked(), 'the setting is kept');
    assert.ok(await (await settingChoice('dry-run', 'Client decides')).isChecked());
  });

  await step('back to "client decides": the same create is accepted', async () => {
    await (await settingChoice('no-create', 'Client decides')).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    const created = await scimCreate(appId, secret, 'probe.user@example.org');
    assert.equal(created.status, 201, `SCIM create: ${JSON.stringify(created.body)}`);
    const del = await fetch(`${BASE}/scim/v2/Users/${created.body.id}`, { method: 'DELETE', headers: { Authorization: basic(appId, secret) } });
    assert.equal(del.status, 204);
  });

  await step('a connected agent is shown as connected', async () => {
    agent = startAgent(appId, secret);
    await page.locator('#agent-status').getByText('Connected', { exact: true }).waitFor({ timeout: 30000 });
    await page.locator('#agents').getByRole('cell', { name: os.hostname() }).waitFor();
  });

  await step('Sync now: the run goes live to succeeded with its counts', async () => {
    await page.getByRole('button', { name: 'Sync now' }).click();
    // The page shows the run at once (queued) and follows it to its end by polling.
    await page.locator('#run-status [data-run-status="succeeded"], #run-status [data-run-status="failed"]').waitFor({ timeout: 60000 });
    const errors = await page.locator('#run-status').textContent();
    assert.equal(await page.locator('#run-status [data-run-status]').getAttribute('data-run-status'), 'succeeded', errors);
    const counts = await page.locator('#run-status .counts').textContent();
    assert.match(counts, new RegExp(`created ${EXPECTED_USERS}\\b`), counts);
    assert.match(counts, /failed 0\b/, counts);
    const row = page.locator('#runs tbody tr').first();
    await row.locator('[data-run-status="succeeded"]').waitFor();
    assert.equal((await row.locator('[data-stat="created"]').textContent()).trim(), String(EXPECTED_USERS));
    await shoot('synchronization.png', true);
  });

  await step('the list shows connected and the last run', async () => {
    await page.getByRole('link', { name: 'Synchronizations' }).click();
    const row = page.locator(`tr[data-app-id="${appId}"]`);
    await row.getByText('Connected', { exact: true }).waitFor();
    await row.locator('[data-run-status="succeeded"]').waitFor();
    await shoot('synchronizations.png');
  });

  await step('a failed run shows its errors in the run history', async () => {
    // The directory refuses the agent's bind from now on: adc.yaml gets a wrong password and
    // the agent reloads it (SIGHUP).
    await page.locator(`tr[data-app-id="${appId}"]`).getByRole('link', { name: 'Head office' }).click();
    const yamlPath = path.join(AGENT_DIR, 'adc.yaml');
    const good = fs.readFileSync(yamlPath, 'utf8');
    fs.writeFileSync(yamlPath, good.replace(/^(\s*bind_password:).*$/m, '$1 not-the-password'), { mode: 0o600 });
    agent.kill('SIGHUP');
    await new Promise((res) => setTimeout(res, 1500));
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.locator('#run-status [data-run-status="failed"]').waitFor({ timeout: 60000 });
    const row = page.locator('#runs tbody tr').first();
    await row.locator('[data-run-status="failed"]').waitFor();
    await row.getByText(/\d+ errors?/).click();
    await row.locator('ul.errors li').first().waitFor();
    const text = await row.locator('ul.errors').textContent();
    assert.match(text, /bind|credentials/i, text);
    assert.equal(await page.locator('#runs tbody tr').count(), 2);
    fs.writeFileSync(yamlPath, good, { mode: 0o600 });
    agent.kill('SIGHUP');
  });

  await step('users: search by name, provider and enabled', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByLabel('Provider').selectOption(appId);
    await page.getByLabel('Enabled').selectOption('yes');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#users caption').getByText(`of ${EXPECTED_USERS}`).waitFor();
    await shoot('users.png');
    await page.getByLabel('Name contains').fill('user000003');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#users caption').getByText('1–1 of 1').waitFor();
    await page.getByRole('cell', { name: 'user000003@example.org' }).waitFor();
    await page.getByLabel('Enabled').selectOption('no');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No user matches.').waitFor();
  });

  await step('groups: member counts, a group\'s members, a user\'s groups', async () => {
    const auth = { 'Authorization': basic(appId, secret), 'Content-Type': 'application/scim+json' };
    const scim = async (method, p, body) => {
      const r = await fetch(BASE + '/scim/v2' + p, { method, headers: auth, body: body && JSON.stringify(body) });
      assert.ok(r.ok, `${method} ${p}: ${r.status}`);
      return r.json();
    };
    const ids = [];
    for (const n of [1, 2, 3, 4]) {
      const f = encodeURIComponent(`userName eq "user00000${n}@example.org"`);
      ids.push((await scim('GET', `/Users?filter=${f}`)).Resources[0].id);
    }
    const group = (displayName, members) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName, members });
    const eng = await scim('POST', '/Groups', group('Engineering', ids.slice(0, 3).map((value) => ({ value }))));
    await scim('POST', '/Groups', group('All staff', [{ value: eng.id, type: 'Group' }, { value: ids[3] }]));
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('heading', { name: 'Groups' }).waitFor();
    const row = page.locator('#groups tbody tr', { hasText: 'Engineering' });
    assert.equal(await row.locator('td.num').textContent(), '3');
    assert.equal(await page.locator('#groups tbody tr', { hasText: 'All staff' }).locator('td.num').textContent(), '2');
    await page.getByLabel('Name contains').fill('staff');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#groups caption').getByText('1–1 of 1').waitFor();
    await shoot('groups.png');
    await page.getByRole('link', { name: 'All staff' }).click();
    await page.getByRole('heading', { name: 'All staff' }).waitFor();
    assert.equal(await page.locator('#members tbody tr').count(), 2);
    await page.locator('#members').getByRole('link', { name: 'Engineering' }).click();
    await page.getByRole('heading', { name: 'Engineering' }).waitFor();
    assert.equal(await page.locator('#member-count').textContent(), '3');
    await page.getByLabel('Name contains').fill('user000002');
    /* The search runs on the server (the members come a page at a time). */
    await page.locator('#members caption').getByText('1–1 of 1').waitFor();
    assert.equal(await page.locator('#members tbody tr').count(), 1);
    await page.locator('#members').getByRole('link', { name: 'user000002@example.org' }).click();
    await page.getByRole('heading', { name: 'user000002@example.org' }).waitFor();
    await page.locator('#user-groups').getByRole('link', { name: 'Engineering' }).waitFor();
    assert.equal(await page.locator('#user-groups tbody tr').count(), 1);
    /* A large group is paged: every user, ten a page (#/groups/<id>?count=10). */
    const all = (await scim('GET', '/Users?count=1000&attributes=userName')).Resources;
    const everyone = await scim('POST', '/Groups', group('Everyone', all.map((u) => ({ value: u.id }))));
    await page.evaluate((hash) => { location.hash = hash; }, '#/groups/' + everyone.id + '?count=10');
    await page.getByRole('heading', { name: 'Everyone' }).waitFor();
    const n = all.length;
    await page.locator('#members caption').getByText(`1–10 of ${n}`).waitFor();
    assert.equal(await page.locator('#members tbody tr').count(), 10);
    assert.equal(await page.locator('#m-prev').isHidden(), true);
    await page.locator('#m-next').click();
    await page.locator('#members caption').getByText(`11–20 of ${n}`).waitFor();
    await page.locator('#m-prev').click();
    await page.locator('#members caption').getByText(`1–10 of ${n}`).waitFor();
    for (let s = 11; s <= n; s += 10) await page.locator('#m-next').click().then(() =>
      page.locator('#members caption').getByText(`${s}–${Math.min(n, s + 9)} of ${n}`).waitFor());
    assert.equal(await page.locator('#m-next').isHidden(), true);
    await page.getByLabel('Name contains').fill('user00001');
    await page.locator('#members caption').getByText('1–10 of 10').waitFor();
    await page.getByLabel('Name contains').fill('nobody');
    await page.locator('#members caption').getByText('No member matches.').waitFor();
  });

  await step('the audit log shows who did what', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    const table = page.locator('#audit');
    await table.getByText(`console:${ADMIN}`).first().waitFor();
    await table.getByText(appId).first().waitFor();
    await shoot('audit-log.png');
  });

  await step('rotate the secret: the new one is shown once, the old one stops working', async () => {
    await page.getByRole('link', { name: 'Synchronizations' }).click();
    await page.locator(`tr[data-app-id="${appId}"]`).getByRole('link', { name: 'Head office' }).click();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const fresh = (await page.locator('#rotated-secret').textContent()).trim();
    assert.notEqual(fresh, secret);
    assert.equal((await scimCreate(appId, secret, 'old.secret@example.org')).status, 401);
    const r = await fetch(`${BASE}/scim/v2/Users?count=1`, { headers: { Authorization: basic(appId, fresh) } });
    assert.equal(r.status, 200);
  });

  await step('delete with confirmation', async () => {
    await page.getByRole('button', { name: 'Delete synchronization' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Head office' }).waitFor();
    await page.getByRole('button', { name: 'Delete synchronization' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Synchronizations' }).waitFor();
    await page.getByText('"Head office" was deleted.').waitFor();
    assert.equal(await page.locator(`tr[data-app-id="${appId}"]`).count(), 0);
    const g = await page.request.get(`${BASE}/api/v1/sync-configs/${appId}`);
    assert.equal(g.status(), 404);
  });

  await step('sign out ends the session on the server', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const r = await page.request.get(`${BASE}/api/v1/sync-configs`);
    assert.equal(r.status(), 401);
  });

  await step('an idle session expires: the console asks to sign in again', async () => {
    await signIn(EXPIRY_BASE, ADMIN, PASSWORD);
    await page.getByRole('heading', { name: 'Synchronizations' }).waitFor();
    await page.waitForTimeout(3500); // the server runs with --session-idle 2
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByText('Your session has expired. Sign in again.').waitFor();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const r = await page.request.get(`${EXPIRY_BASE}/api/v1/session`);
    assert.equal(r.status(), 401);
  });

  await step('no third-party request and no CSP violation', async () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(cspViolations, []);
  });
}

try {
  await main();
} catch (e) {
  failed = true;
} finally {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((res) => { const t = setTimeout(() => { c.kill('SIGKILL'); res(); }, 10000); c.on('exit', () => { clearTimeout(t); res(); }); });
    }
  }
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(failed ? '# FAILED' : `# all ${stepNo} steps passed`);
process.exit(failed ? 1 : 0);
