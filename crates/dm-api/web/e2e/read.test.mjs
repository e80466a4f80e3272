// Read state in headless Chromium with polling off: a new message raises the
// badge and the title's total on the other member's page; opening the
// conversation in a second tab marks it read, and the first tab's badge
// clears; the sender's page shows "Seen" under its message.
// Run by `cargo xtask web-test`, which builds dm-api and passes its path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { screenshots, signInLive, useBrowserAndApi } from "./chromium.mjs";

const session = useBrowserAndApi(5700);

async function signIn(handle) {
  const page = await signInLive(session.browser, session.base, handle);
  await page.waitForSelector("#groups li");
  return page;
}

const unread = (page) => page.$eval("#groups li", (li) => Number(li.dataset.unread));

test("a badge and the title count unread messages; reading in another tab clears them; the sender sees Seen", async () => {
  const andrew = await signIn("andrewbrown");
  const bayko = await signIn("bayko");
  const before = await unread(bayko);
  assert.ok(before > 0, "the seed's messages from andrew are unread for bayko");
  assert.match(await bayko.title(), /^\((\d+|99\+)\) Cruddur messages$/);

  // Andrew, reading the conversation, sends a message.
  await andrew.locator("#groups li").first().click();
  await andrew.waitForSelector("#messages li");
  const text = `Unread for bayko ${Date.now()}`;
  await andrew.fill("#message-input", text);
  await andrew.click("#send");
  await bayko.waitForFunction((n) => Number(document.querySelector("#groups li").dataset.unread) === n, before + 1, { timeout: 15000 });
  assert.equal(await bayko.textContent("#groups li .badge"), before + 1 > 99 ? "99+" : String(before + 1));
  await bayko.screenshot({ path: join(screenshots, "bayko-unread.png") });

  // Bayko opens it in a second tab: it is marked read up to what is shown.
  const second = await signIn("bayko");
  await second.locator("#groups li").first().click();
  await second.waitForFunction((t) => [...document.querySelectorAll("#messages li .text")].some((e) => e.textContent === t), text, { timeout: 15000 });
  // The first tab's badge and title clear.
  await bayko.waitForFunction(() => document.querySelector("#groups li").dataset.unread === "0", null, { timeout: 15000 });
  assert.equal(await bayko.$("#groups li .badge"), null);
  await bayko.waitForFunction(() => document.title === "Cruddur messages", null, { timeout: 15000 });

  // Andrew sees "Seen" under his message.
  await andrew.waitForFunction((t) => {
    const mine = [...document.querySelectorAll("#messages li.mine")];
    const last = mine[mine.length - 1];
    return last?.querySelector(".text")?.textContent === t && last.querySelector(".seen")?.textContent === "Seen";
  }, text, { timeout: 15000 });
  assert.equal(await andrew.locator("#messages .seen").count(), 1, "under one message only");
  await andrew.screenshot({ path: join(screenshots, "andrew-seen.png") });
});
