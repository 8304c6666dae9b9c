// Copyright 2026 the mpreg authors. MIT license.
// Debian's Chromium for the browser tests (installed by .ci/run).

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
