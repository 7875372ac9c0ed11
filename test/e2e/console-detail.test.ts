import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { SpecRevision } from '../../src/model/index.js';
import { launchBrowser, openConsole, overflowsHorizontally, screenshot } from './browser.js';
import type { RunningBerth } from './harness.js';
import { cleanup, startBerth } from './harness.js';
import { slowSpec } from './programs.js';

// The service detail page (issue 12, docs/console.md, "Service detail"): live convergence, instance logs, scale,
// timeline, the why panel on a broken rollout, rollback from the History tab, and what a viewer sees.
const GRID = 'default';
const NAME = 'shop';
const PATH = `/grids/${GRID}/services/${NAME}`;
// Pause on a failed rollout (the default, said here because the why assertion depends on it); a short
// monitor keeps the test fast.
const spec = (replicas: number, env: Record<string, string> = {}) => ({
  ...slowSpec(NAME, replicas, { env, updateConfig: { failureAction: 'pause', monitor: '1s' } }),
  labels: { tier: 'web' },
  ports: [{ name: 'http', port: 8080, targetPort: 'http' }],
});

describe('console: the service detail page', { timeout: 240_000 }, () => {
  let berth: RunningBerth;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.13.0/24' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (berth) await cleanup(berth);
  });

  /** Checks and photographs the same view at phone size, in a context of its own. */
  async function alsoOnPhone(path: string, name: string, ready: (p: Page) => Promise<void>): Promise<void> {
    const phone = await openConsole(browser, berth, { viewport: 'phone', path });
    await ready(phone.page);
    assert.equal(await overflowsHorizontally(phone.page), false, `${name} fits a 390 px screen`);
    await screenshot(phone.page, name);
    assert.deepEqual(phone.problems, []);
    await phone.context.close();
  }

  const readyRows = (p: Page) => p.locator('table.instances tr[data-ready="true"]');

  it('shows a service converge live to 3 ready instances', async () => {
    await berth.client.createService(GRID, spec(3));
    ({ page, problems } = await openConsole(browser, berth, { viewport: 'desktop', path: PATH }));
    await page.getByRole('heading', { name: new RegExp(NAME) }).waitFor();
    await page.getByText('0 of 0 ready').or(page.getByText('0 of 3 ready')).waitFor();
    await berth.client.deploy(GRID, NAME);
    // Arrives through the page's watch stream: no reload.
    await page.getByText('3 of 3 ready').waitFor({ timeout: 30_000 });
    await page.locator('.why-calm[data-verdict="healthy"]').waitFor({ timeout: 10_000 });
    const summary = await page.getByRole('region', { name: 'Summary' }).innerText();
    assert.match(summary, new RegExp(`${NAME}\\.${GRID}\\.berth\\.local`));
    assert.match(summary, /http 8080\/TCP → http/);
    assert.match(summary, /tier=web/);
    // The endpoints list the three ready addresses.
    await page.getByRole('list', { name: 'Endpoints' }).locator('li.ok').nth(2).waitFor();
    assert.equal(await overflowsHorizontally(page), false, 'the overview fits 1280 px');
    await screenshot(page, 'detail-overview');
    await alsoOnPhone(PATH, 'detail-overview', (p) => p.getByText('3 of 3 ready').waitFor());
  });

  it('lists the instances and follows the logs of the one clicked', async () => {
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.waitForURL(`**${PATH}/instances`);
    await readyRows(page).nth(2).waitFor();
    const first = (await berth.client.listInstances(GRID, NAME, { active: true })).sort((a, b) => a.slot - b.slot)[0];
    assert.ok(first);
    await page.locator(`tr[data-instance="${first.id}"]`).getByRole('button').click();
    const log = page.getByRole('log', { name: `logs of ${NAME}-${first.slot}` });
    // The line the program printed when it started listening.
    await log.getByText(`${first.id} listening`).waitFor({ timeout: 10_000 });
    assert.match(page.url(), new RegExp(`instance=${first.id}`), 'the open instance is in the URL');
    await page.getByLabel(`Search logs of ${NAME}-${first.slot}`).fill('listening');
    assert.equal(await log.locator('mark').first().innerText(), 'listening');
    // Stats arrive within one 5 s period and draw a sparkline.
    await page.locator(`tr[data-instance="${first.id}"] .spark-value`).first().filter({ hasText: '%' }).waitFor({ timeout: 12_000 });
    assert.equal(await overflowsHorizontally(page), false);
    await screenshot(page, 'detail-instances-logs');
    await alsoOnPhone(`${PATH}/instances?instance=${first.id}`, 'detail-instances-logs', (p) => p.getByText(`${first.id} listening`).waitFor({ timeout: 10_000 }));
  });

  it('shows a stale write as a conflict with the current version, changing nothing', async () => {
    // The page sends the version it read; make it a stale one on the way, as if another writer came first.
    const scaleUrl = `**/v1/grids/${GRID}/services/${NAME}/scale`;
    await page.route(scaleUrl, (route) => route.continue({ postData: JSON.stringify({ ...(route.request().postDataJSON() as object), version: 1 }) }));
    const current = await berth.client.getService(GRID, NAME);
    await page.getByLabel('Replicas').fill('4');
    await page.getByRole('button', { name: 'Scale' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /^Conflict/);
    assert.match(text, new RegExp(`version 1; it is now at version ${current.version}`));
    await page.unroute(scaleUrl);
    // The browser reports the refused request itself: that one, and only it, is expected here.
    assert.deepEqual(problems.splice(0), ['console error: Failed to load resource: the server responded with a status of 409 (Conflict)']);
    assert.equal((await berth.client.getService(GRID, NAME)).spec.replicas, 3, 'nothing changed');
  });

  it('scales to 5 from the page and sees 5 ready', async () => {
    await page.getByLabel('Replicas').fill('5');
    await page.getByRole('button', { name: 'Scale' }).click();
    await readyRows(page).nth(4).waitFor({ timeout: 30_000 });
    assert.equal((await berth.client.getService(GRID, NAME)).spec.replicas, 5);
  });

  it('shows logs and events together on the timeline', async () => {
    await page.getByRole('link', { name: 'Timeline' }).click();
    const timeline = page.getByRole('log', { name: `timeline of ${NAME}` });
    await timeline.locator('[data-event="service.scaled"]').first().waitFor({ timeout: 10_000 });
    await timeline.getByText('listening').first().waitFor();
    assert.equal(await overflowsHorizontally(page), false);
    await screenshot(page, 'detail-timeline');
    await alsoOnPhone(`${PATH}/timeline`, 'detail-timeline', (p) => p.locator('[data-event="service.scaled"]').first().waitFor({ timeout: 10_000 }));
  });

  it('explains a rollout whose new instances fail their readiness probe', async () => {
    const current = await berth.client.getService(GRID, NAME);
    await berth.client.updateService(GRID, NAME, spec(5, { HEALTH_STATUS: '503' }), { version: current.version });
    await berth.client.deploy(GRID, NAME);
    await page.getByRole('link', { name: 'Overview' }).click();
    const why = page.locator('section.why[data-verdict="paused"]');
    await why.waitFor({ timeout: 60_000 });
    const text = await why.innerText();
    assert.match(text, /Why: paused/i);
    assert.match(text, /readiness/);
    assert.match(text, /503/);
    assert.equal(await overflowsHorizontally(page), false);
    await screenshot(page, 'detail-why');
    await alsoOnPhone(PATH, 'detail-why', (p) => p.locator('section.why[data-verdict="paused"]').waitFor({ timeout: 10_000 }));
    // Dark by the system setting too.
    const dark = await openConsole(browser, berth, { viewport: 'desktop', colorScheme: 'dark', path: PATH });
    await dark.page.locator('section.why[data-verdict="paused"]').waitFor({ timeout: 10_000 });
    await screenshot(dark.page, 'detail-why-dark');
    assert.deepEqual(dark.problems, []);
    await dark.context.close();
  });

  it('rolls back from the History tab to the working version and is healthy again', async () => {
    const history = await berth.client.history(GRID, NAME);
    const broken = (r: SpecRevision) => r.spec.containers.some((c) => JSON.stringify(c.env).includes('HEALTH_STATUS'));
    const working = [...history.items].reverse().find((r) => !broken(r) && r.spec.replicas === 5);
    assert.ok(working, 'a working 5-replica version is in the history');
    await page.getByRole('link', { name: 'History' }).click();
    const brokenRow = page.locator(`li.revision[data-generation="${history.generation}"]`);
    assert.match(await brokenRow.innerText(), /HEALTH_STATUS/, 'the diff names the changed env');
    const row = page.locator(`li.revision[data-generation="${working.generation}"]`);
    await row.getByRole('button', { name: 'Roll back' }).click();
    await row.getByRole('button', { name: 'Yes, roll back' }).click();
    await page.locator('.why-calm[data-verdict="healthy"]').waitFor({ timeout: 60_000 });
    const after = await berth.client.getService(GRID, NAME);
    assert.equal(after.deployment?.cause, 'rollback');
    assert.equal(after.deployment?.rollbackTo, working.generation);
    await page.getByText(`rollback to ${working.generation}`).first().waitFor();
    assert.equal(await overflowsHorizontally(page), false);
    await screenshot(page, 'detail-history');
    await alsoOnPhone(`${PATH}/history`, 'detail-history', (p) => p.getByText(`rollback to ${working.generation}`).first().waitFor());
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByText('5 of 5 ready').waitFor({ timeout: 30_000 });
    assert.deepEqual(problems, []);
  });

  it('shows a viewer no write action', async () => {
    const { token } = await berth.client.createToken({ role: 'viewer', grid: GRID });
    const viewer = await openConsole(browser, berth, { viewport: 'desktop', token, path: PATH });
    await viewer.page.getByText('5 of 5 ready').waitFor({ timeout: 10_000 });
    for (const name of ['Scale', 'Restart', 'Stop', 'Start', 'Deploy']) {
      assert.equal(await viewer.page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
    }
    assert.equal(await viewer.page.getByLabel('Replicas').count(), 0);
    await viewer.page.getByRole('link', { name: 'History' }).click();
    await viewer.page.locator('li.revision').first().waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: 'Roll back' }).count(), 0, 'no Roll back button');
    // The page itself works for a viewer: the instances, one opened from the keyboard (its containers;
    // logs need the logs permission a viewer lacks, so no log stream is opened), and the events.
    await viewer.page.getByRole('link', { name: 'Instances' }).click();
    await readyRows(viewer.page).nth(4).waitFor();
    const last = readyRows(viewer.page).nth(4);
    await last.getByRole('button').focus();
    await viewer.page.keyboard.press('Enter');
    await viewer.page.getByRole('table', { name: 'Containers' }).waitFor();
    await viewer.page.getByText('Reading logs needs the logs permission').waitFor();
    assert.equal(await viewer.page.getByRole('log').count(), 0);
    await viewer.page.getByRole('link', { name: 'Timeline' }).click();
    await viewer.page.getByRole('log', { name: `timeline of ${NAME}` }).locator('[data-event="service.scaled"]').first().waitFor({ timeout: 10_000 });
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });
});
