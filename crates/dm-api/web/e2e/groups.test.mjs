// Named groups in headless Chromium with three pages, polling off: Andrew
// makes a group with Bayko and Londo, which appears in their lists at once;
// Londo writes to it and the others see it live; Andrew removes Londo, whose
// page loses the group at once (the `removed` frame) and sees nothing more
// of it; Bayko leaves, and Andrew's page shows him gone. Run by
// `cargo xtask web-test`, which builds dm-api and passes its path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { screenshots, signInLive, useBrowserAndApi } from "./chromium.mjs";

const session = useBrowserAndApi(6100);
const T = { timeout: 15000 };

const row = (page, name) => page.locator("#groups li", { hasText: name });
const members = (page) => page.$$eval("#member-list li", (items) => items.map((li) => li.dataset.handle));

test("a group of three: made, written to, a member removed, another leaving", async () => {
  const andrew = await signInLive(session.browser, session.base, "andrewbrown");
  const bayko = await signInLive(session.browser, session.base, "bayko");
  const londo = await signInLive(session.browser, session.base, "londo");
  const name = `Council ${Date.now()}`;

  // Bad input is explained, and makes nothing.
  await andrew.fill("#group-name", name);
  await andrew.fill("#group-handles", "@bayko, @ghost");
  await andrew.click("#group-form button");
  await andrew.waitForFunction(() => document.querySelector("#message-error").textContent.includes("@ghost"), null, T);

  await andrew.fill("#group-handles", "@bayko, londo");
  await andrew.click("#group-form button");
  await andrew.waitForFunction((n) => document.querySelector("#conversation-title").textContent === n, name, T);
  await andrew.waitForFunction(() => document.querySelectorAll("#member-list li").length === 3, null, T);
  assert.deepEqual(await members(andrew), ["andrewbrown", "bayko", "londo"]);
  for (const page of [bayko, londo]) {
    await row(page, name).waitFor(T);
    assert.match(await row(page, name).locator(".handle").textContent(), /^3 members/);
  }

  // Londo writes; the others see it live.
  await row(londo, name).click();
  await londo.waitForFunction(() => document.querySelectorAll("#member-list li").length === 3, null, T);
  assert.equal(await londo.locator("#add-form").isHidden(), true, "only the owner adds");
  await londo.fill("#message-input", "Hello, council.");
  await londo.click("#send");
  await andrew.locator("#messages li", { hasText: "Hello, council." }).waitFor(T);
  await bayko.waitForFunction((n) => [...document.querySelectorAll("#groups li")]
    .some((li) => li.textContent.includes(n) && li.querySelector(".preview").textContent === "Hello, council."), name, T);

  // Andrew removes Londo: Londo's page loses the group at once.
  await andrew.locator('#member-list li[data-handle="londo"] .remove').click();
  await londo.waitForFunction(() => document.querySelector("#conversation-title").textContent === "You are no longer in that group", null, T);
  assert.equal(await row(londo, name).count(), 0);
  await andrew.waitForFunction(() => document.querySelectorAll("#member-list li").length === 2, null, T);
  await londo.screenshot({ path: join(screenshots, "londo-removed.png") });

  // What follows reaches Bayko, never Londo.
  await andrew.fill("#message-input", "Londo has left us.");
  await andrew.click("#send");
  await bayko.waitForFunction((n) => [...document.querySelectorAll("#groups li")]
    .some((li) => li.textContent.includes(n) && li.querySelector(".preview").textContent === "Londo has left us."), name, T);
  await bayko.waitForTimeout(500);
  assert.equal(await row(londo, name).count(), 0, "nothing of it comes back");

  // Bayko leaves; Andrew's page shows him gone.
  await row(bayko, name).click();
  await bayko.waitForFunction(() => !document.querySelector("#members").hidden, null, T);
  await bayko.click("#leave");
  await bayko.waitForFunction(() => document.querySelector("#conversation-title").textContent === "You are no longer in that group", null, T);
  await andrew.waitForFunction(() => document.querySelectorAll("#member-list li").length === 1, null, T);
  await andrew.screenshot({ path: join(screenshots, "andrew-alone.png") });
});
