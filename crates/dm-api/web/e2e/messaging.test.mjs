// The messaging page end to end, in headless Chromium: dm-api from memory,
// andrewbrown sends a message, bayko sees that conversation on top.
// Run by `cargo xtask web-test`, which builds dm-api and passes its path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { screenshots, useBrowserAndApi } from "./chromium.mjs";

const session = useBrowserAndApi(4600);

async function signIn(handle) {
  const context = await session.browser.newContext({ viewport: { width: 1100, height: 750 } });
  const page = await context.newPage();
  await page.goto(session.base);
  // Until someone signs in, only the sign-in card shows.
  await page.waitForSelector("#user-buttons button");
  assert.equal(await page.isVisible("#signin"), true);
  assert.equal(await page.isVisible("#app"), false, "no empty messaging layout beneath the sign-in");
  await page.click(`#user-buttons button[data-handle="${handle}"]`);
  await page.waitForFunction(() => document.querySelector("#whoami").textContent.startsWith("@"));
  assert.equal(await page.textContent("#whoami"), `@${handle}`);
  assert.equal(await page.isVisible("#signin"), false);
  assert.equal(await page.isVisible("#app"), true);
  return page;
}

test("andrewbrown sends a message and bayko sees the conversation on top", async () => {
  const andrew = await signIn("andrewbrown");
  await andrew.waitForSelector("#groups li");
  const first = andrew.locator("#groups li").first();
  assert.match(await first.textContent(), /@bayko/);
  assert.match(await first.locator(".when").textContent(), /^(now|\d+[mhd])$/, "relative times");
  await first.click();
  await andrew.waitForSelector("#messages li");
  assert.equal(await andrew.locator("#messages li").count(), 20, "the newest page of the seeded 100");

  // Older messages load on scroll to the top.
  await andrew.locator("#messages").evaluate((list) => { list.scrollTop = 0; list.dispatchEvent(new Event("scroll")); });
  await andrew.waitForFunction(() => document.querySelectorAll("#messages li").length > 20);

  // The counter, and an error from the API next to the form.
  await andrew.fill("#message-input", "   ");
  await andrew.click("#send");
  await andrew.waitForFunction(() => document.querySelector("#message-error").textContent.length > 0);
  assert.match(await andrew.textContent("#message-error"), /Write something first/);
  await andrew.fill("#message-input", "x".repeat(1030));
  assert.equal(await andrew.textContent("#counter"), "1030 / 1024");

  const text = `Hello from the browser ${Date.now()}`;
  await andrew.fill("#message-input", text);
  assert.equal(await andrew.textContent("#counter"), `${[...text].length} / 1024`);
  await andrew.click("#send");
  await andrew.waitForFunction((t) => [...document.querySelectorAll("#messages li .text")].some((e) => e.textContent === t), text);
  assert.equal(await andrew.textContent("#message-error"), "");
  await andrew.screenshot({ path: join(screenshots, "andrewbrown.png") });

  // Bayko: the conversation is on top, with the new message, without a reload.
  const bayko = await signIn("bayko");
  await bayko.waitForFunction((t) => document.querySelector("#groups li .preview")?.textContent === t, text, { timeout: 10000 });
  assert.match(await bayko.locator("#groups li").first().textContent(), /@andrewbrown/);
  await bayko.locator("#groups li").first().click();
  await bayko.waitForFunction((t) => [...document.querySelectorAll("#messages li .text")].some((e) => e.textContent === t), text);
  await bayko.screenshot({ path: join(screenshots, "bayko.png") });

  // A reply from bayko reaches andrew's open conversation by polling.
  const reply = `Got it ${Date.now()}`;
  await bayko.fill("#message-input", reply);
  await bayko.click("#send");
  await andrew.waitForFunction((t) => [...document.querySelectorAll("#messages li .text")].some((e) => e.textContent === t), reply, { timeout: 10000 });
  await andrew.screenshot({ path: join(screenshots, "andrewbrown-reply.png") });
});

test("a conversation starts by @handle", async () => {
  const londo = await signIn("londo");
  await londo.fill("#message-input", "Greetings, Vir's friend.");
  await londo.fill("#new-handle", "@bayko");
  await londo.click("#new-form button");
  await londo.waitForFunction(() => document.querySelector("#conversation-title").textContent.includes("@bayko"));
  assert.match(await londo.locator("#groups li").first().textContent(), /@bayko/);
  await londo.fill("#new-handle", "@nobody");
  await londo.fill("#message-input", "anyone?");
  await londo.click("#new-form button");
  await londo.waitForFunction(() => document.querySelector("#message-error").textContent.length > 0);
  assert.match(await londo.textContent("#message-error"), /No user has that handle/);
  await londo.screenshot({ path: join(screenshots, "londo.png") });
});
