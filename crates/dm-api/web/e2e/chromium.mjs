// What the browser tests share: headless Chromium as they launch it
// (Debian's, or $CHROMIUM, with the flags this closed network needs: no
// background connections), and dm-api from memory, seeded, in local auth mode.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Starts $DM_API_BIN on a port from `firstPort` (plus up to 299, at random)
// with `env` added, and waits until it answers; returns its base URL and process.
export async function startApi(firstPort, env = {}) {
  const bin = process.env.DM_API_BIN;
  assert.ok(bin, "DM_API_BIN names the dm-api binary");
  const port = firstPort + Math.floor(Math.random() * 300);
  const base = `http://127.0.0.1:${port}`;
  const key = join(mkdtempSync(join(tmpdir(), "dm-web-")), "jwt.key");
  const server = spawn(bin, ["--store", "memory", "--seed", "--auth", "local", "--listen", `127.0.0.1:${port}`, "--local-key-file", key],
    { stdio: "inherit", env: { ...process.env, ...env } });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { base, server };
}

// A new browser context signed in as `handle` on the page at `base`, polling
// off (`?poll=off`), once its socket is live.
export async function signInLive(browser, base, handle) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 750 } });
  const page = await context.newPage();
  await page.goto(`${base}/?poll=off`);
  await page.click(`#user-buttons button[data-handle="${handle}"]`);
  await page.waitForFunction(() => document.querySelector("#live").dataset.state === "live");
  return page;
}

// Where the tests write their screenshots.
export const screenshots = process.env.DM_SCREENSHOTS ?? "screenshots";

// A test file's dm-api (from `firstPort`, see startApi) and browser: started
// before its tests, stopped after them. The fields are set once they run.
export function useBrowserAndApi(firstPort, env = {}) {
  const session = { base: null, server: null, browser: null };
  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    Object.assign(session, await startApi(firstPort, env));
    session.browser = await launch();
  });
  after(async () => {
    await session.browser?.close();
    session.server?.kill();
  });
  return session;
}
