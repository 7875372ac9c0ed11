/**
 * The web console, issue 12 "Performance", against a real `berth server` with 200 services and 1,000
 * running instances (200 × 5 `sleep` processes), in Debian's chromium driven by playwright-core:
 *  1. First load of the services list: from navigation to the list rendered — its first page of 50
 *     rows (web/src/pages/services-list.tsx PAGE_SIZE; KubeSphere pages its lists too) and the count of
 *     all 200 — in a fresh browser context (nothing cached; the token is already stored, as for a
 *     returning user), then the first click answered (a row's link opens the service). Transferred bytes as the wire counts them
 *     (compressed), split into script, style, page and API answers. Goal: under 1 s to interactive,
 *     under 300 kB of script (compressed).
 *  2. The server's own CPU (utime + stime from /proc) over 30 s while 5 consoles stay open on the Instances tab of a
 *     service's detail page (their watch streams, stats and log streams included), against the same
 *     server idle with no console open. Goal: under 2 % of one core.
 * No peer runs here (KubeSphere needs a Kubernetes cluster and a registry): each figure is printed with
 * its ratio to the goal. The machine is shared: the load before each part is printed.
 *
 * Run: npm run bench -- console   (BENCH_ROUNDS=5 first loads; BENCH_CPU_SECONDS=30)
 */
import type { CDPSession, Page } from 'playwright-core';
import { cleanup, startBerth } from '../test/e2e/harness.js';
import { launchBrowser } from '../test/e2e/browser.js';
import { cpuMsOf } from './docker-engine.js';
import { load, settle } from './machine-load.js';
import { median } from './berth-rollouts.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CPU_SECONDS = Number(process.env.BENCH_CPU_SECONDS ?? 30);
const SERVICES = 200;
const PER_SERVICE = 5;
const GRID = 'default';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kB = (n: number): string => `${(n / 1024).toFixed(1)} kB`;

const berth = await startBerth({
  instanceRange: '127.11.65.0/24',
  // 1,000 instances need more than a /24: the bench's own ranges, away from the tests' 127.11.K.
  env: { BERTH_INSTANCE_RANGE: '127.12.0.0/21', BERTH_SERVICE_RANGE: '127.98.0.0/23', BERTH_LOG_LEVEL: 'warn' },
});
const browser = await launchBrowser();
try {
  console.log(`berth at ${berth.url}; ${SERVICES} services × ${PER_SERVICE} instances (sleep); ${load()}`);
  const started = performance.now();
  for (let i = 0; i < SERVICES; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, SERVICES - i) }, (_, j) =>
        berth.client.createService(GRID, { name: `svc-${String(i + j).padStart(3, '0')}`, labels: { tier: (i + j) % 2 ? 'web' : 'db' }, replicas: PER_SERVICE, containers: [{ command: ['sleep', '3600'] }] }, { deploy: true }),
      ),
    );
  }
  for (;;) {
    const services = await berth.client.listServices(GRID);
    const running = services.reduce((n, s) => n + s.status.runningInstances, 0);
    if (running >= SERVICES * PER_SERVICE) break;
    if (performance.now() - started > 300_000) throw new Error(`only ${running} of ${SERVICES * PER_SERVICE} instances running after 300 s`);
    await sleep(1000);
  }
  console.log(`  ${SERVICES * PER_SERVICE} instances running after ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // ---- 1. first load -------------------------------------------------------------------------
  const loads: number[] = [];
  const clicks: number[] = [];
  const steps: string[] = [];
  let bytes: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    await settle();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: berth.url, bypassCSP: true });
    await context.addInitScript({ content: `localStorage.setItem('berth.token', ${JSON.stringify(berth.token)})` });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const wire = await countWire(cdp);
    await page.goto('/grids/default/services', { waitUntil: 'commit' });
    // Strings: the bench's tsconfig has no DOM types (these run in the page).
    await page.waitForFunction(`document.querySelectorAll('tbody tr[data-service]').length >= 50 && document.body.innerText.includes('${SERVICES} services')`, undefined, { polling: 'raf', timeout: 30_000 });
    loads.push((await page.evaluate('performance.now()')) as number);
    steps.push(
      (await page.evaluate(`(() => {
        const r = (part) => performance.getEntriesByType('resource').find((e) => e.name.includes(part));
        const at = (e) => (e ? Math.round(e.startTime) + '–' + Math.round(e.responseEnd) : '?');
        const nav = performance.getEntriesByType('navigation')[0];
        return 'page ' + Math.round(nav.responseEnd) + ', script ' + at(r('/assets/index')) + ', DOMContentLoaded ' + Math.round(nav.domContentLoadedEventEnd) + ', whoami ' + at(r('/v1/whoami')) + ', list ' + at(r('/v1/grids/default/services'));
      })()`)) as string,
    );
    const t0 = performance.now();
    await page.getByRole('link', { name: 'svc-010', exact: true }).click();
    await page.waitForURL('**/services/svc-010**');
    clicks.push(performance.now() - t0);
    bytes = wire.totals();
    await context.close();
  }
  console.log(`first load of the services list (${SERVICES} services, ${SERVICES * PER_SERVICE} instances), fresh context, ${ROUNDS} rounds; ${load()}`);
  console.log(`  navigation → the list rendered (50 rows of ${SERVICES}): median ${median(loads).toFixed(0)} ms (best ${Math.min(...loads).toFixed(0)}); runs ${loads.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`  where the time went (ms from navigation, last round): ${steps.at(-1) ?? '?'}`);
  console.log(`  then a click on a row → its page: median ${median(clicks).toFixed(0)} ms`);
  console.log(`  transferred (compressed, last round): ${Object.entries(bytes).map(([k, v]) => `${k} ${kB(v)}`).join(', ')}`);
  console.log(`  ratio to goal: time ${(median(loads) / 1000).toFixed(2)}x of 1 s ${median(loads) < 1000 ? 'met' : 'MISSED'}; script ${((bytes['script'] ?? 0) / (300 * 1024)).toFixed(2)}x of 300 kB ${(bytes['script'] ?? 0) < 300 * 1024 ? 'met' : 'MISSED'}`);

  // ---- 2. server CPU with 5 consoles on a detail page ------------------------------------------
  const pid = berth.proc.pid as number;
  await settle();
  const idle = await cpuOver(pid, CPU_SECONDS);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: berth.url, bypassCSP: true });
  await context.addInitScript({ content: `localStorage.setItem('berth.token', ${JSON.stringify(berth.token)})` });
  const pages: Page[] = [];
  for (let i = 0; i < 5; i++) {
    const page = await context.newPage();
    // The Instances tab: the detail page's busiest (its stats, every 5 s while visible, and the watch).
    await page.goto('/grids/default/services/svc-007/instances');
    await page.getByRole('heading', { name: /svc-007/ }).first().waitFor({ timeout: 30_000 });
    pages.push(page);
  }
  await sleep(5000);
  const open = await cpuOver(pid, CPU_SECONDS);
  await context.close();
  await sleep(5000);
  const idleAfter = await cpuOver(pid, CPU_SECONDS);
  const baseline = (idle + idleAfter) / 2;
  console.log(`server CPU over ${CPU_SECONDS} s each (% of one core), ${SERVICES * PER_SERVICE} instances running: idle ${idle.toFixed(2)} % before and ${idleAfter.toFixed(2)} % after, with 5 consoles open on a detail page ${open.toFixed(2)} %; ${load()}`);
  console.log(`  the 5 consoles' own cost: ${(open - baseline).toFixed(2)} % (open − the mean of the idle figures); ratio to goal: ${(Math.max(0, open - baseline) / 2).toFixed(2)}x of 2 % ${open - baseline < 2 ? 'met' : 'MISSED'} (the server's own idle cost with 1,000 instances is the baseline, not the consoles')`);
} finally {
  await browser.close();
  await cleanup(berth);
}

/** The server's CPU over `seconds`, as % of one core. */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const before = cpuMsOf(pid);
  await sleep(seconds * 1000);
  return ((cpuMsOf(pid) - before) / (seconds * 1000)) * 100;
}

/** Bytes on the wire per resource type (encodedDataLength: compressed bodies and headers), from the DevTools protocol. */
async function countWire(cdp: CDPSession): Promise<{ totals(): Record<string, number> }> {
  const types = new Map<string, string>();
  const totals: Record<string, number> = {};
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', (e) => types.set(e.requestId, e.type === 'Script' ? 'script' : e.type === 'Stylesheet' ? 'style' : e.type === 'Document' ? 'page' : 'api'));
  cdp.on('Network.loadingFinished', (e) => {
    const type = types.get(e.requestId) ?? 'other';
    totals[type] = (totals[type] ?? 0) + e.encodedDataLength;
  });
  return { totals: () => ({ ...totals }) };
}
