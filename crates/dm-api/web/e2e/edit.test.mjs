// Edit and delete in headless Chromium with polling off: Andrew edits his
// message and the other member's open conversation shows the new text and
// "edited" (live), with the list's preview following and the row in place;
// he deletes it and both pages show "Message deleted" in its place, the
// preview going back to the message before. Only one's own messages have the
// buttons. Run by `cargo xtask web-test`, which builds dm-api and passes its path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { screenshots, signInLive, useBrowserAndApi } from "./chromium.mjs";

const session = useBrowserAndApi(5800);

async function openConversation(handle) {
  const page = await signInLive(session.browser, session.base, handle);
  await page.waitForSelector("#groups li");
  await page.locator("#groups li").first().click();
  await page.waitForSelector("#messages li");
  return page;
}

const item = (page, text) => page.locator("#messages li", { hasText: text });
const preview = (page) => page.textContent("#groups li .preview");

test("the author edits and deletes; the other member sees both live, in place", async () => {
  const andrew = await openConversation("andrewbrown");
  const bayko = await openConversation("bayko");
  const before = await preview(bayko);
  const when = await bayko.getAttribute("#groups li", "data-uuid");

  const text = `Edit me ${Date.now()}`;
  await andrew.fill("#message-input", text);
  await andrew.click("#send");
  await item(bayko, text).waitFor({ timeout: 15000 });
  assert.equal(await item(bayko, text).locator(".edit").count(), 0, "not bayko's to edit");
  assert.equal(await andrew.locator("#messages li:not(.mine) .edit").count(), 0, "only one's own messages");

  // Andrew edits it (the page asks for the new text).
  andrew.once("dialog", (dialog) => dialog.accept(`${text}, edited`));
  await item(andrew, text).locator(".edit").click();
  const edited = item(bayko, `${text}, edited`);
  await edited.waitFor({ timeout: 15000 });
  assert.match(await edited.locator(".meta").textContent(), /· edited$/);
  await bayko.waitForFunction((t) => document.querySelector("#groups li .preview").textContent === t, `${text}, edited`, { timeout: 15000 });
  assert.equal(await bayko.getAttribute("#groups li", "data-uuid"), when, "the row in place");
  await bayko.screenshot({ path: join(screenshots, "bayko-edited.png") });

  // Andrew deletes it (the page asks first).
  andrew.once("dialog", (dialog) => dialog.accept());
  await item(andrew, `${text}, edited`).locator(".delete").click();
  await bayko.waitForFunction(() => {
    const last = document.querySelector("#messages").lastElementChild;
    return last.classList.contains("deleted") && last.querySelector(".text").textContent === "Message deleted";
  }, null, { timeout: 15000 });
  await andrew.waitForSelector("#messages li.deleted", { timeout: 15000 });
  assert.equal(await andrew.locator("#messages li.deleted .edit").count(), 0, "a tombstone has no buttons");
  await bayko.waitForFunction((t) => document.querySelector("#groups li .preview").textContent === t, before, { timeout: 15000 });
  await bayko.screenshot({ path: join(screenshots, "bayko-deleted.png") });
});
