/**
 * Launches the system Chromium (Debian's `chromium`, installed by `.ci/run`) through
 * playwright-core, with no network: tests look at what a person would see. Other test areas may
 * reuse this: `const browser = await launchChromium(); if (!browser.ok) ...`.
 *
 * When `/usr/bin/chromium` is missing: under CI=true the caller must fail; elsewhere it skips and
 * prints why (`chromiumUnavailable()` returns the reason).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Screenshots and pages for a human to look at (gitignored). */
export const TEST_OUTPUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-output');

/** Null when Chromium can be used; otherwise why not. Throws under CI=true (a missing browser is a broken CI image). */
export function chromiumUnavailable(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or install Debian's chromium as .ci/run does)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true, so browser tests must not be skipped`);
  console.warn(`skipping browser tests: ${reason}`);
  return reason;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** A page that refuses every network request, so a test proves the content works offline. */
export async function offlinePage(browser: Browser, viewport = { width: 1000, height: 800 }): Promise<{ page: Page; blocked: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport, offline: true });
  const page = await context.newPage();
  const blocked: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url === 'about:blank') return route.continue();
    blocked.push(url);
    return route.abort();
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { page, blocked, errors };
}

/** Path of the real `mermaid` UMD build in node_modules (loaded into the page, no network). */
export function mermaidScriptPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('mermaid/package.json');
  return join(dirname(pkg), 'dist', 'mermaid.min.js');
}

export async function screenshotPath(name: string): Promise<string> {
  const dir = join(TEST_OUTPUT, 'screenshots');
  await mkdir(dir, { recursive: true });
  return join(dir, name);
}
