import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { RunningBerth } from './harness.js';

/**
 * The console's browser tests (docs/console.md): Debian's chromium driven by playwright-core, headless,
 * offline (nothing is downloaded: `npx playwright install` is never run; .ci/run installs chromium).
 * CHROMIUM names another binary.
 */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The two sizes every page is checked and photographed at (issue 12): a laptop and a phone. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

/** Where the test run saves its screenshots (build/ is not committed): build/screenshots/<name>-<size>.png. */
export const SCREENSHOT_DIR = process.env.BERTH_SCREENSHOTS ?? join(process.cwd(), 'build', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface ConsoleSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Page errors and console errors seen so far: a test asserts there were none. */
  readonly problems: string[];
}

/**
 * A fresh browser context (no stored token) at `berth.url`, signed in with `token` (default: the
 * admin's) through the login form, at a viewport size and colour scheme.
 */
export async function openConsole(
  browser: Browser,
  berth: RunningBerth,
  options: { readonly token?: string; readonly viewport?: ViewportName; readonly colorScheme?: 'light' | 'dark'; readonly path?: string } = {},
): Promise<ConsoleSession> {
  const context = await browser.newContext({ viewport: VIEWPORTS[options.viewport ?? 'desktop'], colorScheme: options.colorScheme ?? 'light', baseURL: berth.url });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  await page.goto(options.path ?? '/');
  await page.getByLabel('Token').fill(options.token ?? berth.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { context, page, problems };
}

/** Saves a full-page screenshot as build/screenshots/<name>-<viewport>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const size = page.viewportSize();
  const which = size && size.width <= VIEWPORTS.phone.width ? 'phone' : 'desktop';
  const path = join(SCREENSHOT_DIR, `${name}-${which}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** True when the page is wider than its viewport (a layout that breaks: a horizontal scroll bar). */
export async function overflowsHorizontally(page: Page): Promise<boolean> {
  // A string: the root tsconfig has no DOM types (the function runs in the page, not in Node).
  return page.evaluate('document.documentElement.scrollWidth > window.innerWidth + 1') as Promise<boolean>;
}
