// Debian's Chromium, headless, driven by playwright-core: the real browser the dashboard's tests and benchmark use.
// Missing Chromium is an error, never a skip (apt-get install -y chromium; .ci/run installs it).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM_PATH = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (the dashboard's browser tests need it)`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    timeout: 30_000,
  });
}
