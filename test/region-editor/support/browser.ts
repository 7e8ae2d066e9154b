import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core. CI installs it (`.ci/run`: apt-get install chromium);
 * when it is missing the browser tests fail saying so, never skip.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the Vary (Region) browser tests need it. ` +
        'Install it with `apt-get install -y chromium` (.ci/run does), or set CHROMIUM_PATH.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--no-first-run',
      '--metrics-recording-only',
    ],
  });
}

/**
 * The README's screenshots of the page, refreshed by running the browser tests with
 * REGION_SCREENSHOTS=1 (`REGION_SCREENSHOTS=1 npx vitest run test/region-editor`).
 */
export async function screenshotForDocs(page: Page, name: string): Promise<void> {
  if (process.env.REGION_SCREENSHOTS !== '1') return;
  await page.screenshot({ path: `docs/${name}`, scale: 'css' });
}
