import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openConsole, overflowsHorizontally, screenshot } from './browser.js';
import type { RunningBerth } from './harness.js';
import { cleanup, startBerth } from './harness.js';

// The console's frame: served at /, login, grids, the live services list, deep links (docs/console.md).
describe('console: login and the services list', { timeout: 120_000 }, () => {
  let berth: RunningBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.11.0/24' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (berth) await cleanup(berth);
  });

  it('serves the console at / and deep links, compressed and cacheable, and keeps /v1 paths the API\'s', async () => {
    const page = await fetch(`${berth.url}/grids/default/services/web`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await fetch(`${berth.url}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-encoding'), 'br');
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    const missing = await fetch(`${berth.url}/v1/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'ROUTE_NOT_FOUND');
    const traversal = await fetch(`${berth.url}/assets/..%2f..%2fpackage.json`);
    assert.match(traversal.headers.get('content-type') ?? '', /text\/html/);
  });

  it('refuses a wrong token at login and signs in with the admin token', async () => {
    const context = await browser.newContext({ baseURL: berth.url });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /token/i);
    await page.getByLabel('Token').fill(berth.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Grids' }).waitFor();
    await context.close();
  });

  for (const viewport of ['desktop', 'phone'] as const) {
    it(`lists services live and keeps a filtered deep link (${viewport})`, async () => {
      const name = `live-${viewport}`;
      const { page, context, problems } = await openConsole(browser, berth, { viewport, path: '/grids/default/services?q=live' });
      await page.getByRole('heading', { name: /Services/ }).waitFor();
      await berth.client.createService('default', { name, labels: { tier: 'web' }, containers: [{ command: ['sleep', '1000'] }] });
      // Arrives through the watch stream: no reload, no polling.
      const row = page.locator(`tr[data-service="${name}"]`);
      await row.waitFor();
      assert.match(await row.innerText(), /initialized/);
      await berth.client.deploy('default', name);
      await row.getByText('running').waitFor({ timeout: 20_000 });
      assert.equal(await overflowsHorizontally(page), false, 'the list fits the viewport');
      await screenshot(page, 'services-list');
      await page.getByLabel('Labels').fill('tier=db');
      await page.getByText('No service matches.').waitFor();
      await page.goBack();
      await page.getByRole('heading', { name: 'Grids' }).waitFor({ state: 'detached' }).catch(() => undefined);
      assert.deepEqual(problems, []);
      await context.close();
    });
  }

  it('pages a long list 50 rows at a time, the page in the URL, and filters across every page', async () => {
    for (let i = 0; i < 60; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => berth.client.createService('default', { name: `many-${String(i + j).padStart(2, '0')}`, containers: [{ command: ['sleep', '1'] }] })));
    }
    const { page, context, problems } = await openConsole(browser, berth, { path: '/grids/default/services?q=many' });
    await page.getByText('60 of').waitFor();
    assert.equal(await page.locator('tbody tr[data-service]').count(), 50);
    assert.match(await page.getByRole('navigation', { name: 'Pages of services' }).innerText(), /Page 1 of 2/);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.waitForURL(/page=2/);
    assert.deepEqual(await page.locator('tbody tr[data-service]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service'))), Array.from({ length: 10 }, (_, k) => `many-${50 + k}`));
    await page.goBack();
    await page.getByText('Page 1 of 2').waitFor();
    await page.getByLabel('Search').fill('many-5');
    await page.getByText(/^10 of \d+ services match$/).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Pages of services' }).count(), 0, 'one page: no pager');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
