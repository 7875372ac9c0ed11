import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openConsole, overflowsHorizontally, screenshot } from './browser.js';
import type { RunningBerth } from './harness.js';
import { cleanup, startBerth, waitFor } from './harness.js';

/** The browser's own notes of the answers these tests provoke (400 SPEC_INVALID, 409 VERSION_CONFLICT). */
const expected = (problems: readonly string[]): string[] => problems.filter((p) => !/Failed to load resource: the server responded with a status of (400|409)/.test(p));

// Edit YAML (issue 12): the service as `show -o yaml` prints it; errors at their lines; conflicts shown.
describe('console: Edit YAML', { timeout: 180_000 }, () => {
  let berth: RunningBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.15.0/24' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (berth) await cleanup(berth);
  });

  for (const viewport of ['desktop', 'phone'] as const) {
    it(`shows a refused field at its line, refuses a stale update, and updates and deploys a good one (${viewport})`, async () => {
      const name = `yml-${viewport}`;
      await berth.client.createService('default', { name, replicas: 1, containers: [{ command: ['sleep', '1000'] }] }, { deploy: true });
      await waitFor('1 running', async () => (await berth.client.getService('default', name)).status.runningInstances === 1);
      const { page, context, problems } = await openConsole(browser, berth, { viewport, path: `/grids/default/services/${name}/edit-yaml` });
      await page.getByRole('heading', { name: /Edit YAML/ }).waitFor();
      const editor = page.getByLabel('Service YAML');
      const shown = await editor.inputValue();
      assert.match(shown, new RegExp(`^id: `), 'the whole service, as show -o yaml prints it');
      assert.match(shown, /\nspec:\n {2}name: yml-/);
      assert.equal(await overflowsHorizontally(page), false);
      await screenshot(page, 'edit-yaml');

      // An invalid field: replicas -1. The server names spec.replicas; the page shows it at that line.
      const lines = shown.split('\n');
      const at = lines.findIndex((l) => /^ {2}replicas: 1$/.test(l));
      assert.ok(at > 0, shown);
      lines[at] = '  replicas: -1';
      await editor.fill(lines.join('\n'));
      await page.getByRole('button', { name: 'Check' }).click();
      const errors = page.getByRole('list', { name: 'Errors in the YAML' });
      await errors.waitFor();
      assert.match(await errors.innerText(), new RegExp(`^Line ${at + 1}: spec\\.replicas`));
      assert.equal(await page.locator('.yaml-ln-error').getAttribute('data-line'), String(at + 1));
      await screenshot(page, 'edit-yaml-error');
      assert.equal((await berth.client.getService('default', name)).spec.replicas, 1, 'nothing stored');

      // Someone else changes the service meanwhile: the update is refused, not applied over theirs.
      const theirs = await berth.client.getService('default', name);
      await berth.client.updateService('default', name, { ...theirs.spec, labels: { by: 'someone-else' } }, { version: theirs.version });
      lines[at] = '  replicas: 2';
      await editor.fill(lines.join('\n'));
      await page.getByRole('button', { name: 'Update', exact: true }).click();
      await page.getByText('Changed by someone else since you opened it').waitFor();
      const still = await berth.client.getService('default', name);
      assert.equal(still.spec.replicas, 1);
      assert.deepEqual(still.spec.labels, { by: 'someone-else' });
      await screenshot(page, 'edit-yaml-conflict');

      // Load the current version, change replicas there, update: stored and deployed.
      await page.getByRole('button', { name: /Load the current version/ }).click();
      await waitFor('the current version in the editor', async () => (await editor.inputValue()).includes('by: someone-else'));
      const fresh = (await editor.inputValue()).replace(/\n {2}replicas: 1\n/, '\n  replicas: 2\n');
      await editor.fill(fresh);
      await page.getByRole('button', { name: 'Update', exact: true }).click();
      await page.getByText(/Updated to version \d+, deploying generation/).waitFor();
      const after = await berth.client.getService('default', name);
      assert.equal(after.spec.replicas, 2);
      assert.deepEqual(after.spec.labels, { by: 'someone-else' }, 'their change kept');
      assert.equal(after.deployment?.spec.replicas, 2, 'deployed');
      await waitFor('2 running', async () => (await berth.client.getService('default', name)).status.runningInstances === 2, { timeoutMs: 20_000 });
      assert.deepEqual(expected(problems), []);
      await context.close();
    });
  }

  it('shows a viewer no editor and no Update', async () => {
    await berth.client.createService('default', { name: 'yml-view', containers: [{ command: ['sleep', '1000'] }] });
    const { token } = await berth.client.createToken({ role: 'viewer', grid: 'default' });
    const { page, context } = await openConsole(browser, berth, { token, path: '/grids/default/services/yml-view/edit-yaml' });
    await page.getByText(/your role is viewer/i).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Update', exact: true }).count(), 0);
    assert.equal(await page.getByLabel('Service YAML').count(), 0);
    await context.close();
  });
});
