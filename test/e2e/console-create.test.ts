import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { VIEWPORTS, launchBrowser, openConsole, overflowsHorizontally, screenshot } from './browser.js';
import type { RunningBerth } from './harness.js';
import { ROOT, cleanup, startBerth } from './harness.js';
import { ECHO } from './programs.js';

/** Asserts the page fits its viewport and saves its screenshot (build/screenshots/<name>-<size>.png). */
async function look(page: Page, name: string): Promise<void> {
  assert.equal(await overflowsHorizontally(page), false, `${name} fits the viewport`);
  await screenshot(page, name);
}

/** Page problems but the browser's own notes of the 400s a refused dry run answers (expected here). */
const refusalsAside = (problems: readonly string[]): string[] => problems.filter((p) => !/Failed to load resource: the server responded with a status of 400/.test(p));

/** As look, at both sizes: the page is resized to the phone's and back. */
async function lookBoth(page: Page, name: string): Promise<void> {
  await look(page, name);
  await page.setViewportSize(VIEWPORTS.phone);
  await look(page, name);
  await page.setViewportSize(VIEWPORTS.desktop);
}

// The Create pages (docs/console.md, "Create"): the step form, external, specify workloads, edit by YAML.
describe('console: create services', { timeout: 240_000 }, () => {
  let berth: RunningBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.12.0/24' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (berth) await cleanup(berth);
  });

  for (const viewport of ['desktop', 'phone'] as const) {
    it(`walks the stateless form's steps, checking the name as it is typed (${viewport})`, async () => {
      const name = viewport === 'desktop' ? 'shop' : 'shop-phone';
      const { page, context, problems } = await openConsole(browser, berth, { viewport, path: '/grids/default/services' });
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('menuitem', { name: 'Stateless service' }).click();
      await page.getByRole('heading', { name: 'Create a stateless service' }).waitFor();
      assert.match(page.url(), /\/grids\/default\/services\/new\/stateless$/);

      // Basic information: the DNS-1035 rule as you type, said under the field and tied to it.
      const nameField = page.getByLabel('Name', { exact: true });
      await nameField.fill('Shop');
      const message = page.locator('#cf-name-error');
      assert.equal(await message.innerText(), 'Lower-case letters only.');
      assert.equal(await nameField.getAttribute('aria-invalid'), 'true');
      assert.equal(await nameField.getAttribute('aria-describedby'), 'cf-name-error');
      await nameField.fill('1shop');
      assert.match(await message.innerText(), /start with a lower-case letter/);
      await look(page, 'create-basic-error');
      await nameField.fill(name);
      await message.waitFor({ state: 'detached' });
      assert.equal(await nameField.getAttribute('aria-invalid'), null);
      assert.equal(await page.getByLabel('Version').inputValue(), 'v1');
      await page.getByLabel('Alias').fill('Shop front');
      await page.getByLabel('Description (optional)').fill('the shop, made in the console');
      await look(page, 'create-basic');
      await page.getByRole('button', { name: 'Next' }).click();

      // Containers: Next refuses an empty command, with the message at the field and focus on it.
      await page.getByRole('heading', { name: 'Container 1' }).waitFor();
      await page.getByRole('button', { name: 'Next' }).click();
      await page.locator('#cf-c0-command-error').waitFor();
      // The form moves focus in a task after it renders the message (setTimeout 0): wait for that task,
      // not for a fixed time, then check where focus is.
      await page.waitForFunction("document.activeElement && document.activeElement.id === 'cf-c0-command'", undefined, { timeout: 5000 }).catch(() => undefined);
      assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'cf-c0-command');
      await page.getByLabel('Command', { exact: true }).fill(`node ${ECHO}`);
      await page.getByLabel('Working directory (optional)').fill(ROOT);
      await page.getByRole('button', { name: 'Add port' }).click();
      await page.getByLabel('Port name').fill('http');
      await page.getByLabel('Container port').fill('8080');
      await page.getByLabel('Service port').fill('80');
      await page.getByLabel('Check').selectOption('tcp');
      await page.getByLabel('Port (number or name)').fill('http');
      await page.getByLabel('Period (s)').fill('1');
      await look(page, 'create-containers');
      await page.getByRole('button', { name: 'Next' }).click();

      // Advanced settings: the sticky-session timeout shows Kubernetes' default before it is turned on.
      await page.getByRole('heading', { name: 'Advanced settings' }).waitFor();
      const timeout = page.getByLabel('Maximum session sticky time (s)');
      assert.equal(await timeout.inputValue(), '10800');
      assert.equal(await timeout.isDisabled(), true);
      await page.getByLabel('Replicas').fill('3');
      await page.getByRole('radio', { name: /^NodePort/ }).check();
      await page.getByLabel('Node port for http').waitFor();
      await page.getByRole('checkbox', { name: /Keep each client on one instance/ }).check();
      assert.equal(await timeout.isDisabled(), false);
      assert.equal(await timeout.inputValue(), '10800');
      await page.getByLabel('More labels (optional)').fill(`app=${name}`);
      assert.equal(await page.getByRole('checkbox', { name: /Deploy now/ }).isChecked(), true, 'deploy now is ticked by default');
      await look(page, 'create-advanced');

      if (viewport === 'phone') {
        // Back keeps what was typed; Cancel returns to the list and creates nothing.
        await page.getByRole('button', { name: 'Back' }).click();
        assert.equal(await page.getByLabel('Command', { exact: true }).inputValue(), `node ${ECHO}`);
        await page.getByRole('link', { name: 'Cancel' }).click();
        await page.getByRole('heading', { name: /Services/ }).waitFor();
        assert.match(page.url(), /\/grids\/default\/services$/);
        await assert.rejects(berth.client.getService('default', name), /not found/i);
        assert.deepEqual(problems, []);
        await context.close();
        return;
      }

      await page.getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/grids\/default\/services\/shop$/);
      const s = await berth.client.getService('default', 'shop');
      assert.equal(s.spec.replicas, 3);
      assert.equal(s.spec.type, 'NodePort');
      assert.equal(s.spec.sessionAffinity, 'ClientIP');
      assert.equal(s.spec.sessionAffinityConfig?.clientIP.timeoutSeconds, 10800);
      assert.deepEqual(s.spec.annotations, { 'berth.io/alias': 'Shop front', 'berth.io/description': 'the shop, made in the console' });
      assert.deepEqual(s.spec.labels, { app: 'shop', version: 'v1' });
      assert.equal(s.spec.ports[0]?.port, 80);
      assert.equal(s.spec.ports[0]?.targetPort, 8080);
      assert.ok((s.spec.ports[0]?.nodePort ?? 0) >= 30000, 'a node port was allocated');
      assert.deepEqual(s.spec.containers[0]?.command, ['node', ECHO]);
      assert.deepEqual(s.spec.containers[0]?.readinessProbe?.tcpSocket, { port: 'http' });

      // It converges, seen live on the list (the watch stream).
      await page.goto('/grids/default/services');
      const row = page.locator('tr[data-service="shop"]');
      await row.getByText('3/3').waitFor({ timeout: 60_000 });
      assert.match(await row.innerText(), /Shop front/);
      assert.deepEqual(problems, []);
      await context.close();
    });
  }

  it("shows the server's refusal at the form field it is about (a node port already taken)", async () => {
    const taken = (await berth.client.getService('default', 'shop')).spec.ports[0]?.nodePort;
    assert.ok(taken);
    const { page, context, problems } = await openConsole(browser, berth, { path: '/grids/default/services/new/stateless' });
    await page.getByLabel('Name', { exact: true }).fill('clash');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Container 1' }).waitFor();
    await page.getByLabel('Command', { exact: true }).fill('sleep 1000');
    await page.getByRole('button', { name: 'Add port' }).click();
    await page.getByLabel('Container port').fill('8080');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /^NodePort/ }).check();
    const nodePort = page.getByLabel('Node port for port 8080');
    await nodePort.fill(String(taken));
    await page.getByRole('button', { name: 'Create' }).click();
    const message = page.locator('#cf-c0-port0-node-error');
    await message.waitFor();
    assert.match(await message.innerText(), /provided port is already allocated/);
    assert.equal(await nodePort.getAttribute('aria-invalid'), 'true');
    assert.match(await page.getByRole('alert').innerText(), /spec\.ports\[0\]\.nodePort/);
    await look(page, 'create-refused');
    await assert.rejects(berth.client.getService('default', 'clash'), /not found/i);
    // Editing clears the server's message; an allocated port is then taken.
    await nodePort.fill('');
    await message.waitFor({ state: 'detached' });
    await page.getByRole('checkbox', { name: /Deploy now/ }).uncheck();
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/services\/clash$/);
    assert.notEqual((await berth.client.getService('default', 'clash')).spec.ports[0]?.nodePort, taken);
    assert.deepEqual(refusalsAside(problems).filter((p) => !/status of 422/.test(p)), []);
    await context.close();
  });

  it('creates a stateful service through its form, with the volumes step, not deployed when unticked', async () => {
    const { page, context, problems } = await openConsole(browser, berth, { path: '/grids/default/services/new/stateful' });
    await page.getByRole('heading', { name: 'Create a stateful service' }).waitFor();
    assert.deepEqual((await page.getByRole('list', { name: 'Steps' }).getByRole('listitem').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ')), ['1 Basic information', '2 Containers', '3 Volumes', '4 Advanced settings']);
    await page.getByLabel('Name', { exact: true }).fill('ledger');
    await page.getByLabel('Version').fill('v2');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Container 1' }).waitFor();
    await page.getByLabel('Command', { exact: true }).fill('sleep 1000');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Volumes' }).waitFor();
    await page.getByText('BERTH_DATA_DIR').waitFor();
    await lookBoth(page, 'create-volumes');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Replicas').fill('2');
    await page.getByRole('radio', { name: /^Headless/ }).check();
    await page.getByRole('checkbox', { name: /Deploy now/ }).uncheck();
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/services\/ledger$/);
    const s = await berth.client.getService('default', 'ledger');
    assert.equal(s.spec.stateful, true);
    assert.equal(s.spec.replicas, 2);
    assert.equal(s.spec.clusterIP, 'None');
    assert.deepEqual(s.spec.labels, { version: 'v2' });
    assert.deepEqual(s.spec.containers[0]?.command, ['sleep', '1000']);
    assert.equal(s.status.phase, 'initialized', 'not deployed: Deploy now was unticked');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('creates an external service and a service over existing workloads through their forms', async () => {
    const { page, context, problems } = await openConsole(browser, berth, { path: '/grids/default/services/new/external' });
    await page.getByRole('heading', { name: 'Create an external service' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('db');
    await page.getByLabel('Alias').fill('Billing database');
    await page.getByLabel('External name').fill('DB.example.org');
    await page.locator('#cf-externalName-error').waitFor();
    await page.getByLabel('External name').fill('db.example.org');
    await page.getByRole('button', { name: 'Add port' }).click();
    await page.getByLabel('Port', { exact: true }).fill('5432');
    await lookBoth(page, 'create-external');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/services\/db$/);
    const db = await berth.client.getService('default', 'db');
    assert.equal(db.spec.type, 'ExternalName');
    assert.equal(db.spec.externalName, 'db.example.org');
    assert.equal(db.spec.ports[0]?.port, 5432);
    assert.deepEqual(db.spec.containers, []);
    assert.equal(db.spec.annotations?.['berth.io/alias'], 'Billing database');

    await page.goto('/grids/default/services/new/workloads');
    await page.getByRole('heading', { name: 'Create a service for existing workloads' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('shop-edge');
    await page.getByRole('checkbox', { name: /app=shop/ }).check();
    await page.getByText('Selects shop.').waitFor();
    await page.getByLabel('Target port').fill('8080');
    await page.getByLabel('Service port').fill('80');
    await lookBoth(page, 'create-workloads');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/services\/shop-edge$/);
    const edge = await berth.client.getService('default', 'shop-edge');
    assert.deepEqual(edge.spec.selector, { app: 'shop' });
    assert.deepEqual(edge.spec.ports.map((p) => [p.port, p.targetPort]), [[80, 8080]]);
    assert.deepEqual(problems, []);
    await context.close();
  });

  // Line 7 holds the bad port name.
  const bad = (name: string): string => [`name: ${name}`, 'labels:', '  version: v1', 'containers:', '  - command: [sleep, "1000"]', '    ports:', '      - name: Bad_Port', '        containerPort: 8080', ''].join('\n');

  for (const viewport of ['desktop', 'phone'] as const) {
    it(`shows the server's error at the line of the YAML field, then creates once fixed (${viewport})`, async () => {
      const name = viewport === 'desktop' ? 'api' : 'api-phone';
      const BAD = bad(name);
      const { page, context, problems } = await openConsole(browser, berth, { viewport, path: '/grids/default/services/new/yaml' });
      await page.getByRole('heading', { name: 'Create a service from YAML' }).waitFor();
      const editor = page.getByLabel('Service YAML');
      // A syntax error, at its line, before anything is sent.
      await editor.fill(`name: ${name}\ncontainers:\n  - command: [sleep\n`);
      await page.locator('.yaml-ln-error').first().waitFor();
      assert.match(await page.getByRole('list', { name: 'Errors in the YAML' }).innerText(), /Line [34]/);
      assert.equal(await page.getByRole('button', { name: 'Check' }).isDisabled(), true);

      await editor.fill(BAD);
      await page.getByRole('button', { name: 'Check' }).click();
      const errors = page.getByRole('list', { name: 'Errors in the YAML' });
      await errors.waitFor();
      assert.match(await errors.innerText(), /^Line 7: spec\.containers\[0\]\.ports\[0\]\.name: Invalid value: "Bad_Port"/);
      assert.deepEqual(await page.locator('.yaml-ln-error').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { line: string } }).dataset.line)), ['7']);
      assert.match(await page.locator('[data-error-line="7"]').innerText(), /Bad_Port/);
      assert.equal(await editor.getAttribute('aria-invalid'), 'true');
      // The list's link puts the caret on that line.
      await errors.getByRole('button', { name: 'Line 7' }).click();
      assert.equal(await page.evaluate('(() => { const t = document.activeElement; return t.value.slice(t.selectionStart, t.selectionEnd); })()'), '      - name: Bad_Port');
      await look(page, 'create-yaml-error');
      await page.emulateMedia({ colorScheme: 'dark' });
      await screenshot(page, 'create-yaml-error-dark');
      await page.emulateMedia({ colorScheme: 'light' });
      await assert.rejects(berth.client.getService('default', name), /not found/i, 'a dry run stores nothing');

      await editor.fill(BAD.replace('Bad_Port', 'http'));
      await page.getByRole('button', { name: 'Check' }).click();
      await page.getByText('The server accepts this spec').waitFor();
      if (viewport === 'phone') {
        assert.deepEqual(refusalsAside(problems), []);
        await context.close();
        return;
      }
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
      assert.equal(download.suggestedFilename(), 'api.yaml');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/services\/api$/);
      const api = await berth.client.getService('default', 'api');
      assert.equal(api.spec.containers[0]?.ports[0]?.name, 'http');
      assert.deepEqual(refusalsAside(problems), []);
      await context.close();
    });
  }

  it('takes back what show -o yaml prints, uploaded as a file', async () => {
    const shown = (await berth.client.getService('default', 'ledger')) as unknown as Record<string, unknown>;
    const { stringify } = await import('yaml');
    const spec = { ...(shown['spec'] as Record<string, unknown>), name: 'ledger-copy' };
    const text = stringify({ ...shown, name: 'ledger-copy', spec, explanation: undefined });
    const { page, context, problems } = await openConsole(browser, berth, { path: '/grids/default/services/new/yaml' });
    await page.locator('input[type=file]').setInputFiles({ name: 'ledger.yaml', mimeType: 'application/yaml', buffer: Buffer.from(text) });
    await page.waitForFunction(`document.querySelector('textarea').value.includes('ledger-copy')`);
    await page.getByRole('checkbox', { name: /Deploy now/ }).uncheck();
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/services\/ledger-copy$/);
    const copy = await berth.client.getService('default', 'ledger-copy');
    assert.equal(copy.spec.stateful, true);
    assert.equal(copy.spec.clusterIP, 'None');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('shows a viewer no Create button and no form; the API refuses the create anyway', async () => {
    const { token } = await berth.client.createToken({ role: 'viewer', grid: 'default' });
    const { page, context } = await openConsole(browser, berth, { token, path: '/grids/default/services' });
    await page.getByRole('heading', { name: /Services/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create' }).count(), 0);
    await page.goto('/grids/default/services/new/stateless');
    await page.getByText('Your role cannot create services in default').waitFor();
    assert.equal(await page.getByLabel('Name', { exact: true }).count(), 0);
    const { BerthClient } = await import('../../src/client/index.js');
    const viewer = new BerthClient({ baseUrl: berth.url, token });
    await assert.rejects(viewer.createService('default', { name: 'nope', containers: [{ command: ['sleep', '1'] }] }), (e: Error & { status?: number }) => e.status === 403);
    await context.close();
  });
});
