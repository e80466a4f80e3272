// The Cruddur frontend from its own origin: a page served on
// http://localhost:3000 (where the React app runs in development) makes the
// week-5 frontend's exact requests to dm-api on another port, in headless
// Chromium, with dm-api's default CORS. A page on an origin that is not
// allowed is refused by the browser. Run by `cargo xtask web-test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { launch, startApi } from "./chromium.mjs";

let api;
let server;
let browser;
const pages = [];

// The frontend's origin; a blank page whose scripts run from there.
function servePage(port) {
  return new Promise((resolve, reject) => {
    const page = createServer((_, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>Cruddur</title><p>frontend</p>");
    });
    page.once("error", (e) => reject(new Error(`port ${port} is needed for the frontend's origin: ${e.message}`)));
    page.listen(port, "127.0.0.1", () => resolve(page));
  });
}

before(async () => {
  // No --cors-origin: the defaults are what is tested.
  ({ base: api, server } = await startApi(5300, { DM_CORS_ORIGINS: "" }));
  pages.push(await servePage(3000), await servePage(3001));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const p of pages) p.close();
  server?.kill();
});

// A token as the frontend keeps it (localStorage "access_token"); here minted
// by the local sign-in instead of Cognito.
async function token(handle) {
  const res = await fetch(`${api}/api/local/token`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ handle }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

async function frontend(origin, handle) {
  const page = await browser.newPage();
  await page.goto(origin);
  await page.evaluate((t) => localStorage.setItem("access_token", t), await token(handle));
  return page;
}

// The week-5 frontend's requests, as its pages write them.
async function frontendRequests(page) {
  return page.evaluate(async (backend) => {
    const log = [];
    const call = async (what, url, init) => {
      try {
        const res = await fetch(url, init);
        const body = await res.json();
        log.push({ what, method: init.method, url: url.replace(backend, ""), status: res.status, body });
        return body;
      } catch (e) {
        log.push({ what, method: init.method, url: url.replace(backend, ""), error: String(e) });
        return null;
      }
    };
    const access_token = localStorage.getItem("access_token");
    // MessageGroupsPage / MessageGroupPage: loadMessageGroupsData
    const groups = await call("message groups", `${backend}/api/message_groups`, {
      headers: { Authorization: `Bearer ${access_token}` }, method: "GET",
    });
    const uuid = groups?.[0]?.uuid;
    // MessageGroupPage: loadMessageGroupData
    await call("messages", `${backend}/api/messages/${uuid}`, {
      headers: { Authorization: `Bearer ${access_token}` }, method: "GET",
    });
    // MessageForm in a conversation
    await call("send in a group", `${backend}/api/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${access_token}`, Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ message: "Hello from the frontend", message_group_uuid: uuid }),
    });
    // MessageGroupNewPage: loadUserShortData, without a token
    await call("user short", `${backend}/api/users/@londo/short`, { method: "GET" });
    // MessageForm on the new-conversation page
    await call("send by handle", `${backend}/api/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${access_token}`, Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ message: "Hello, Londo!", handle: "londo" }),
    });
    return log;
  }, api);
}

test("the frontend's requests from http://localhost:3000 get their answers", async () => {
  const page = await frontend("http://localhost:3000", "andrewbrown");
  const log = await frontendRequests(page);
  for (const entry of log) console.log(JSON.stringify(entry).slice(0, 300));
  assert.deepEqual(log.map((e) => [e.what, e.status]), [
    ["message groups", 200], ["messages", 200], ["send in a group", 200], ["user short", 200], ["send by handle", 200],
  ], JSON.stringify(log));
  const [groups, messages, sent, user, started] = log.map((e) => e.body);
  assert.equal(groups[0].handle, "bayko");
  assert.equal(messages.length, 20);
  assert.equal(sent.message, "Hello from the frontend");
  assert.equal(sent.message_group_uuid, groups[0].uuid);
  assert.deepEqual(user, { handle: "londo", display_name: "Londo Mollari" });
  assert.equal(started.handle, "andrewbrown");
  assert.ok(started.message_group_uuid, "the frontend redirects to the new conversation");
  await page.close();
});

test("the same requests from http://127.0.0.1:3000 work too", async () => {
  const page = await frontend("http://127.0.0.1:3000", "bayko");
  const log = await frontendRequests(page);
  assert.ok(log.every((e) => e.status === 200), JSON.stringify(log));
  await page.close();
});

test("an origin that is not allowed is refused by the browser", async () => {
  const page = await frontend("http://localhost:3001", "andrewbrown");
  const log = await frontendRequests(page);
  assert.ok(log.length > 0 && log.every((e) => e.error?.includes("Failed to fetch")), JSON.stringify(log));
  await page.close();
});

test("an edit and a delete from http://localhost:3000 pass the browser's preflight", async () => {
  const page = await frontend("http://localhost:3000", "andrewbrown");
  const log = await page.evaluate(async (backend) => {
    const headers = { Authorization: `Bearer ${localStorage.getItem("access_token")}`, "Content-Type": "application/json" };
    const groups = await (await fetch(`${backend}/api/message_groups`, { headers })).json();
    const sent = await (await fetch(`${backend}/api/messages`, {
      method: "POST", headers, body: JSON.stringify({ message: "To be edited", message_group_uuid: groups[0].uuid }),
    })).json();
    const path = `${backend}/api/messages/${groups[0].uuid}/${sent.uuid}`;
    const edit = await fetch(path, { method: "PATCH", headers, body: JSON.stringify({ message: "Edited" }) });
    const del = await fetch(path, { method: "DELETE", headers });
    return [[edit.status, (await edit.json()).message], [del.status, (await del.json()).deleted]];
  }, api);
  assert.deepEqual(log, [[200, "Edited"], [200, true]]);
  await page.close();
});
