// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core):
// signing in, each page, filters and search, the query page, hostile text shown as text, and
// screenshots of the overview and an image page. Run by tests/vulndb/test_dashboard.py:
//
//   node dashboard.mjs  (environment: URL, MODULES: playwright-core's node_modules folder,
//                        READER / READER_PASSWORD, OWNER / OWNER_PASSWORD, CVE: an id the
//                        images have, IMAGE: an image page's hash, OUT: artefacts)
//
// Prints one line per check and exits non-zero when one fails.
import { createRequire } from 'node:module';

const require = createRequire(process.env.MODULES + '/');
const { chromium } = require('playwright-core');
const URL = process.env.URL, OUT = process.env.OUT;
let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed++;
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('pageerror', e => problems.push('page error: ' + e.message));
  // every failed request is one the checks below make on purpose (a wrong password, a bad query)
  const expected = [];
  page.on('response', r => { if (r.status() >= 400 && !expected.some(e => r.url().includes(e) )) problems.push(`${r.status()} ${r.url()}`); });
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push('console: ' + m.text()); });
  // the content of the route the address names is on screen (not the page before's)
  const rendered = () => page.waitForFunction(() => document.getElementById('main').dataset.route === location.hash,
    null, { timeout: 30000 });
  const text = async sel => (await page.locator(sel).first().textContent({ timeout: 15000 })) || '';

  // signing in: the page asks for it; a wrong password says so; the right one goes on
  const t0 = Date.now();
  expected.push('/api/v1/summary', '/api/v1/trend', '/api/v1/database'); // the first page asks, and learns that it must sign in
  await page.goto(URL + '/');
  await page.waitForSelector('#user', { timeout: 15000 });
  check(Date.now() - t0 < 15000, 'the sign-in form appears');
  await page.fill('#user', process.env.READER);
  await page.fill('#pass', 'wrong password');
  expected.push('/auth/token');
  await page.click('button[type=submit]');
  await page.waitForSelector('p.error:not(:empty)', { timeout: 15000 });
  check(/wrong/.test(await text('p.error')), 'a wrong password is refused with a message');
  await page.fill('#pass', process.env.READER_PASSWORD);
  expected.length = 0;
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")', { timeout: 15000 });
  check((await text('#who')).includes(process.env.READER), 'signed in: the account is named');

  // the overview: images by status, findings by severity, the vulnerabilities in most images
  await page.waitForSelector('#top-vulns table tbody tr', { timeout: 30000 });
  const cards = await page.locator('.card').allTextContents();
  check(cards.some(c => /^\s*[1-9][0-9,]*\s*Unhealthy/.test(c)), 'the overview counts unhealthy images: ' + cards.join(' | '));
  check(await page.locator('svg[aria-label^="Findings by severity"]').count() === 1, 'findings by severity as a chart with a text label');
  check((await page.locator('#top-vulns table tbody tr').count()) > 0, 'the vulnerabilities affecting most images are listed');
  check(await page.locator('svg[aria-label^="Findings over the last 30 days"]').count() === 1, 'the trend as a chart with a text label');
  const kevRow = await page.locator('#known-exploited table tbody tr').first().textContent();
  check(/CVE-2023-4911.*GNU C Library.*2023-11-21.*libc6/.test(kevRow), 'the known-exploited findings are listed: ' + kevRow);
  await page.waitForSelector('#upgrades table tbody tr, #upgrades p:text("No finding has a fix")', { timeout: 30000 });
  const upgrade = await page.locator('#upgrades table tbody tr').first().locator('td').allTextContents();
  check(upgrade.length === 5 && upgrade[1] && Number(upgrade[2]) > 0, 'the upgrades that clear most findings: ' + upgrade.join(' | '));
  const feeds = await page.locator('table:has(th:text("Newest data")) tbody tr').allTextContents();
  check(feeds.length > 0 && feeds.some(f => /debian/.test(f)), 'each feed of the database with its age: ' + feeds.length);
  // the test feeds are stale snapshots: the overview says so in words
  check(/Warning: \d+ of \d+ feeds hold data more than 7 days old/.test(await page.locator('main').textContent()), 'stale feeds are named');
  const today = await page.locator('details table tbody tr').first().locator('td').allTextContents();
  check(today.length === 4 && today[0] === new Date().toISOString().slice(0, 10) && Number(today[3]) > 0,
    "the trend's table names today, with the images assessed today: " + today.join(' | '));
  await page.screenshot({ path: OUT + '/overview.png', fullPage: true });

  // images: filtered by status, sorted, and one opened
  await page.click('nav a[href="#/images"]');
  await page.waitForSelector('h1:text("Images")');
  await page.selectOption('#f-status', 'Unhealthy');
  await page.click('form button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('status=Unhealthy'));
  await rendered();
  const statuses = await page.locator('table tbody tr td:nth-child(6)').allTextContents();
  check(statuses.length > 0 && statuses.every(s => s === 'Unhealthy'), 'the status filter keeps only unhealthy images');
  await page.click('th button:text("Image")');
  await page.waitForFunction(() => location.hash.includes('sort=name'));
  await rendered();
  const names = await page.locator('table tbody tr td:first-child').allTextContents();
  check(names.length > 0 && names.every((n, i) => !i || names[i - 1] >= n), 'sorting by image name (descending first)');
  await page.locator('table tbody tr td a').first().click();
  await page.waitForSelector('h2:text-matches("Findings by package")', { timeout: 15000 });
  check((await page.locator('details summary').count()) > 0, 'the image page groups its findings by package');
  check(/Status: Unhealthy/.test(await text('main p')), 'the image page gives its status');
  const kevMark = await page.locator('tr:has(a:text("CVE-2023-4911")) .kev').count();
  check(kevMark === 1, 'the image page marks a known-exploited finding');
  const layerRow = await page.locator('table:has(caption:text("Bottom layer first")) tbody tr').first().textContent();
  check(/sha256:[0-9a-f]{64}.*[1-9][0-9]* packages?/.test(layerRow), 'the image page lists its layers with the packages each introduced: ' + layerRow);
  check(await page.locator('h2:text("Referrers")').count() === 1, 'the image page has a place for its referrers');
  await page.screenshot({ path: OUT + '/image.png', fullPage: true });

  // images by the severity of their findings: HIGH or worse keeps the unhealthy image, CRITICAL none
  await page.goto(URL + '/#/images?sev=HIGH');
  await rendered();
  const high = await page.locator('table tbody tr td:first-child').allTextContents();
  check(high.length === 1 && high[0].startsWith('team/app@'), 'the severity filter keeps the images with HIGH or worse: ' + high.join(' | '));
  await page.goto(URL + '/#/images?sev=CRITICAL');
  await rendered();
  check(await page.locator('table tbody tr').count() === 0 && /\(0 images\)/.test(await text('.pager')), 'and CRITICAL none');

  // repositories: each with its images, the unhealthy ones and their findings; one opened
  await page.click('nav a[href="#/repositories"]');
  await page.waitForSelector('h1:text("Repositories")');
  await rendered();
  const repos = await page.locator('table tbody tr').allTextContents();
  check(repos.length === 2 && /^team\/app\s*1\s*1\s*1/.test(repos[0]) && /^team\/clean\s*1\s*1\s*0/.test(repos[1]),
    'the repositories the reader may see, unhealthy first: ' + repos.join(' | '));
  await page.locator('table tbody tr td a').first().click();
  await page.waitForSelector('h1:text("Images of team/app")');
  await rendered();
  check(await page.locator('table tbody tr').count() === 1, "a repository's images");

  // search by vulnerability id
  await page.goto(URL + '/#/search');
  await page.fill('#s-q', process.env.CVE);
  await page.click('form button[type=submit]');
  await page.waitForSelector('h2:text-matches("Images with")');
  check(/: [1-9]/.test(await text('h2')), `search finds the images with ${process.env.CVE}`);
  check((await page.locator('table tbody tr').count()) > 0, 'and lists them');

  // the query page, and hostile text shown as text, never run
  await page.goto(URL + '/#/query');
  await page.fill('#kql', "print x = '<img src=x onerror=\"window.pwned=1\">', y = '<script>window.pwned=2</script>'");
  await page.click('form button[type=submit]');
  await page.waitForSelector('table tbody tr');
  check((await text('table tbody tr td')).includes('<img src=x'), 'hostile text is shown as text');
  check(await page.evaluate(() => window.pwned === undefined), 'and none of it runs');
  check(await page.locator('main img').count() === 0, 'and no element is made of it');
  check(await page.locator('a[download="query.csv"]').count() === 1, 'the result can be downloaded as CSV');
  await page.fill('#kql', 'securityresources | where');
  expected.push('/api/v1/query');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p.error');
  check(/line 1/.test(await text('p.error')), 'a query error names where: ' + await text('p.error'));

  // a security reader may not add a suppression rule: the page says why
  await page.goto(URL + '/#/suppressions');
  await page.waitForSelector('h1:text("Suppression rules")');
  await page.fill('#r-vuln', process.env.CVE);
  await page.fill('#r-reason', 'reader tries');
  expected.push('/api/v1/suppressions');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p.error:not(:empty)');
  check(/denied|not allowed|may not/i.test(await text('p.error')), 'a reader cannot add a rule: ' + await text('p.error'));
  expected.length = 0;

  // signing out
  await page.click('#logout');
  await page.waitForSelector('#user');
  check(await page.evaluate(() => sessionStorage.length === 0), 'signing out forgets the tokens');

  // an owner's suppression round trip: a rule added, the finding marked on the image page, the rule deleted
  await page.fill('#user', process.env.OWNER);
  await page.fill('#pass', process.env.OWNER_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")');
  await page.goto(URL + '/#/suppressions');
  await page.waitForSelector('h1:text("Suppression rules")');
  await page.fill('#r-vuln', process.env.CVE);
  await page.fill('#r-repo', 'team/*');
  await page.fill('#r-reason', 'not reachable <b>here</b>');
  await page.click('form button[type=submit]');
  await page.waitForSelector(`table tbody tr td:text("${process.env.CVE}")`);
  check((await text('table tbody tr')).includes('not reachable <b>here</b>'), 'the rule is listed, its reason as text');
  await page.goto(URL + '/' + process.env.IMAGE);
  await page.waitForSelector('h2:text-matches("Findings by package")');
  const row = page.locator('tr', { has: page.locator(`a:text("${process.env.CVE}")`) }).first();
  check(/suppressed by rule .*not reachable <b>here<\/b>/.test(await row.textContent()), 'the image page marks the finding suppressed');
  await page.click('#rescan');
  await page.waitForSelector('span[role=status]:text-matches("Queued|already queued")');
  check(true, 'the owner asks for the image to be scanned again: ' + await text('span[role=status]'));
  await page.goto(URL + '/#/suppressions');
  await page.waitForSelector('table tbody tr button');
  await page.click('table tbody tr button:text("Delete")');
  await page.waitForSelector('p:text("No rules.")');
  check(true, 'the rule is deleted');

  // the owner sets the namespace's pull policy from the recommendation view's settings link
  await page.goto(URL + '/#/recommendation');
  await page.locator('summary', { hasText: 'team' }).locator('a:text("settings")').click();
  await page.waitForSelector('h1:text("Namespace team")');
  await page.selectOption('#n-policy', 'HIGH');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p:text("Pulls of images with HIGH or worse findings are refused.")');
  check(true, 'the pull policy is set');
  await page.selectOption('#n-policy', '');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p:text("Pulls are not gated on findings.")');
  check(true, 'and taken off again');
  // the audit log is the admins': the owner is told so, the admin reads who did what
  // each refusal awaited as a response: the page keeps the last page's error in place until the
  // next answer comes, so waiting for the error alone could go on before the 403 came (seen in
  // the slower sanitizer build), and count it as unexpected
  expected.push('/api/v1/audit');
  await Promise.all([page.waitForResponse(r => r.url().includes('/api/v1/audit')), page.goto(URL + '/#/audit')]);
  await page.waitForSelector('p.error');
  check(/denied/i.test(await text('p.error')), 'an owner may not read the audit log: ' + await text('p.error'));
  expected.push('/api/v1/accounts');
  await Promise.all([page.waitForResponse(r => r.url().includes('/api/v1/accounts')), page.goto(URL + '/#/accounts')]);
  await page.waitForSelector('p.error');
  check(/denied/i.test(await text('p.error')), 'nor the accounts');
  expected.length = 0;
  await page.click('#logout');
  await page.waitForSelector('#user');
  await page.fill('#user', 'admin');
  await page.fill('#pass', process.env.ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")');
  // an image whose OS name and a package's version are markup: shown as text, never run
  await page.goto(URL + '/' + process.env.HOSTILE);
  await page.waitForSelector('h2:text-matches("Findings by package")', { timeout: 15000 });
  await page.locator('table:has(caption:text("Bottom layer first")) summary').first().click();
  const shown = await page.locator('main').textContent();
  check(shown.includes('OS: <img src=x onerror=window.pwned=4>') && shown.includes('evil<script>window.pwned=5</script> 1.0') &&
    await page.evaluate(() => window.pwned === undefined), 'uploaded markup (an OS name, a package name) is shown as text');
  await page.goto(URL + '/#/audit');
  await page.waitForSelector('h1:text("Audit log")');
  const log = await page.locator('table tbody').textContent();
  check(/owner\s*rule-create/.test(log) && /owner\s*rule-delete/.test(log) && /owner\s*policy-set\s*team/.test(log),
    'the admin reads the owner\'s changes in the audit log');
  await page.goto(URL + '/#/accounts');
  await page.waitForSelector('h1:text("Accounts")');
  const accounts = await page.locator('table tbody').textContent();
  check(/owner\s*user\s*owner on team\/\*/.test(accounts) && /reader\s*user\s*security-reader on team\/\*/.test(accounts),
    'the admin sees the accounts and their roles: ' + accounts.slice(0, 200));

  check(problems.length === 0, 'no script error and no Content-Security-Policy violation' + (problems.length ? ': ' + problems.join('; ') : ''));
} finally {
  await browser.close();
}
console.log(failed ? `${failed} checks failed` : 'all checks passed');
process.exit(failed ? 1 : 0);
