// Copyright 2026 the mpreg authors. MIT license.
// Debian's Chromium for the browser tests (installed by .ci/run).
import { chromium, type Page } from "npm:playwright-core@1.65.1";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** As root on a closed network: no sandbox, and no background connections. */
export const CHROMIUM_ARGS: string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether Chromium is installed (the browser tests are skipped otherwise). */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/**
 * Opens a page on a node's own origin (its `/healthz`) in a fresh Chromium,
 * runs `fn` with it, its HTTP origin and the page's uncaught errors, and
 * closes the browser.
 */
export async function onNodePage<T>(
  nodeUrl: string,
  fn: (page: Page, http: string, errors: string[]) => Promise<T>,
): Promise<T> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    const http = nodeUrl.replace("ws:", "http:");
    await page.goto(`${http}/healthz`);
    return await fn(page, http, errors);
  } finally {
    await browser.close();
  }
}
