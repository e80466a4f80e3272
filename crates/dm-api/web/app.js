// The Cruddur messaging page: sign in, conversations, messages, live.
// Plain JavaScript against the API of this same server; no build step.
// New messages arrive over the live socket (`/api/ws`); while it is down the
// page polls, and on every (re)connect it catches up on what it missed.
// `?poll=off` turns polling off (the browser tests use it).
// Read state: a badge of unread messages per conversation and their total in
// the title; what is shown (while the page is visible) is marked read; "Seen"
// sits under the newest of one's own messages the other member has read.
// Edit and delete: one's own messages have both; an edited message says
// "edited", a deleted one stays in its place as "Message deleted". Of two
// states of a message the later wins (deleted, then the latest `edited_at`),
// whichever arrives first.
// Groups: a named group is made with its name and members' handles; its
// members show above its messages, its owner renames it, adds and removes
// members, anyone leaves; a `members` frame redraws them, and a `removed`
// frame takes the group off the page of whoever is no longer in it.
"use strict";

const MAX = 1024;
const POLL_MS = 3000;
const POLLING = new URLSearchParams(location.search).get("poll") !== "off";
const $ = (id) => document.getElementById(id);
const state = {
  token: null, me: null, groups: [], open: null, older: null, loadingOlder: false, timer: null,
  socket: null, retry: 0, reconnect: null,
  total: 0, seenThrough: "", marked: {},
};

const MESSAGES = {
  message_blank: "Write something first.",
  message_too_long: "Messages are at most 1024 characters.",
  handle_invalid: "That is not a handle.",
  user_not_found: "No user has that handle.",
  self_conversation: "You cannot message yourself.",
  conversation_not_found: "That conversation does not exist.",
  message_not_found: "That message does not exist.",
  message_deleted: "That message was deleted.",
  token_invalid: "Your sign-in is no longer valid.",
  unavailable: "The service is unavailable; try again in a moment.",
  handle_unknown: "No user has that handle:",
  too_few_members: "A group needs at least two others.",
  too_many_members: "A group has at most 100 members.",
  self_among_members: "You are in it already.",
  duplicate_members: "A handle is there twice.",
  name_blank: "Give the group a name.",
  name_invalid: "A name is at most 100 characters.",
  not_owner: "Only the group's owner can do that.",
  already_member: "That user is a member already.",
  member_not_found: "That user is not a member.",
};
const explain = (codes, handles = []) =>
  [...codes.map((c) => MESSAGES[c] || c), ...handles.map((h) => `@${h}`)].join(" ");
const failure = (reply) => explain(reply.json?.errors || ["error"], reply.json?.handles || []);

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  let json = null;
  try { json = await response.json(); } catch (_) { /* empty body */ }
  const link = response.headers.get("link");
  const next = link && link.match(/<([^>]+)>;\s*rel="next"/);
  return { ok: response.ok, status: response.status, json, next: next ? next[1] : null };
}

function relative(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// Sign-in: in local mode a picker of seeded users, otherwise a pasted token.
async function showSignIn() {
  $("signin").hidden = false;
  $("app").hidden = true;
  $("signout").hidden = true;
  $("whoami").textContent = "";
  const users = await api("/api/local/users");
  if (users.ok) {
    $("local-users").hidden = false;
    const buttons = $("user-buttons");
    buttons.replaceChildren(...users.json.map((u) => {
      const b = el("button", { "data-handle": u.handle, type: "button" }, `@${u.handle}`);
      b.title = u.display_name;
      b.onclick = () => signInLocal(u.handle);
      return b;
    }));
  } else {
    $("token-form").hidden = false;
  }
}

async function signInLocal(handle) {
  const reply = await api("/api/local/token", { method: "POST", body: JSON.stringify({ handle }) });
  if (!reply.ok) { $("signin-error").textContent = explain(reply.json?.errors || ["error"]); return; }
  await signIn(reply.json.token);
}

async function signIn(token) {
  state.token = token;
  const me = await api("/api/me");
  if (!me.ok) { state.token = null; $("signin-error").textContent = explain(me.json?.errors || ["error"]); return; }
  state.me = me.json;
  setTotal(me.json.unread_total || 0);
  sessionStorage.setItem("token", token);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("whoami").textContent = `@${state.me.handle}`;
  $("signin-error").textContent = "";
  await refreshGroups();
  connect();
}

// The live socket: polling stops while it is open, and starts again when it closes.
function connect() {
  clearTimeout(state.reconnect);
  if (!state.token) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/ws?token=${encodeURIComponent(state.token)}`);
  state.socket = socket;
  showLive("connecting");
  socket.onopen = () => {
    state.retry = 0;
    stopPolling();
    showLive("live");
    catchUp();
  };
  socket.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch (_) { return; }
    if (frame.type === "message" && frame.message_group_uuid === state.open) addMessages([frame.message]);
    if (frame.type === "message_edited" && frame.message_group_uuid === state.open) applyState(frame.message);
    if (frame.type === "message_deleted" && frame.message_group_uuid === state.open) {
      applyState({ uuid: frame.uuid, created_at: frame.created_at, deleted: true, message: "" });
    }
    if (frame.type === "conversation") upsertGroup(frame.conversation);
    if (frame.type === "members" && frame.message_group_uuid === state.open) {
      renderMembers({ uuid: frame.message_group_uuid, kind: "group", name: frame.name, members: frame.members });
    }
    if (frame.type === "removed") leftGroup(frame.message_group_uuid);
    if (frame.type === "read" && frame.message_group_uuid === state.open && frame.member !== state.me?.uuid) {
      seen(keyOf(frame.read_through));
    }
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 4001) { signOut(); $("signin-error").textContent = "Your sign-in expired; sign in again."; return; }
    if (!state.token) return;
    showLive("polling");
    startPolling();
    // Back off while it fails to open: 0.5 s, 1 s, 2 s, then every 4 s.
    const delay = Math.min(4000, 500 * 2 ** state.retry++);
    state.reconnect = setTimeout(connect, delay);
  };
}

function showLive(how) {
  const label = { connecting: "connecting…", live: "live", polling: POLLING ? "offline: polling" : "offline" }[how];
  $("live").textContent = label;
  $("live").dataset.state = how;
}

function startPolling() {
  clearInterval(state.timer);
  if (POLLING) state.timer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(state.timer);
  state.timer = null;
}

function signOut() {
  stopPolling();
  clearTimeout(state.reconnect);
  const socket = state.socket;
  state.socket = null;
  socket?.close();
  $("live").textContent = "";
  Object.assign(state, { token: null, me: null, groups: [], open: null, older: null, seenThrough: "", marked: {} });
  setTotal(0);
  sessionStorage.removeItem("token");
  $("groups").replaceChildren();
  $("messages").replaceChildren();
  showSignIn();
}

async function refreshGroups() {
  const [reply, me] = await Promise.all([api("/api/message_groups?limit=50"), api("/api/me")]);
  if (me.ok) setTotal(me.json.unread_total);
  if (!reply.ok) return;
  state.groups = reply.json;
  renderGroups();
}

// Counts are exact to 99; 100 stands for more.
const countText = (n) => (n > 99 ? "99+" : String(n));

// The total of unread messages, in the title.
function setTotal(total) {
  state.total = Math.max(0, total);
  document.title = state.total > 0 ? `(${countText(state.total)}) Cruddur messages` : "Cruddur messages";
}

// A conversation row as the socket sends it: replaces its old self, most
// recent first; the total follows its count.
function upsertGroup(row) {
  const old = state.groups.find((g) => g.uuid === row.uuid);
  if (old) setTotal(state.total + row.unread_count - old.unread_count);
  else if (row.unread_count > 0) api("/api/me").then((me) => me.ok && setTotal(me.json.unread_total));
  state.groups = [row, ...state.groups.filter((g) => g.uuid !== row.uuid)]
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  renderGroups();
}

function renderGroups() {
  $("groups").replaceChildren(...state.groups.map((g) => {
    const badge = g.unread_count > 0 ? el("span", { class: "badge" }, countText(g.unread_count)) : "";
    const item = el("li", { "data-uuid": g.uuid, "data-unread": String(g.unread_count || 0), class: state.open === g.uuid ? "active" : "" },
      el("div", { class: "top" }, el("strong", {}, g.display_name), badge, el("span", { class: "when" }, relative(g.created_at))),
      el("div", { class: "handle" }, g.kind === "group" ? `${g.members_count} member${g.members_count === 1 ? "" : "s"} · @${g.handle}` : `@${g.handle}`),
      el("div", { class: "preview" }, g.message));
    item.onclick = () => openGroup(g.uuid);
    return item;
  }));
}

// A message's place in its conversation: created_at, then uuid (as the table orders them).
const keyOf = (m) => `${m.created_at}#${m.uuid}`;

// How far along its life a state of a message is: sent, edited (by when), deleted.
const revision = (m) => (m.deleted ? "~" : m.edited_at || "");

function messageItem(m) {
  const mine = state.me && m.handle === state.me.handle;
  const classes = [mine ? "mine" : "", m.deleted ? "deleted" : ""].filter(Boolean).join(" ");
  const meta = `@${m.handle} · ${relative(m.created_at)}${m.edited_at && !m.deleted ? " · edited" : ""}`;
  const li = el("li", {
    "data-uuid": m.uuid, "data-key": keyOf(m), "data-created-at": m.created_at,
    "data-handle": m.handle, "data-display-name": m.display_name || "", "data-rev": revision(m), class: classes,
  },
  el("div", { class: "meta" }, meta),
  el("div", { class: "text" }, m.deleted ? "Message deleted" : m.message));
  if (mine && !m.deleted) {
    const edit = el("button", { class: "edit", type: "button" }, "Edit");
    const remove = el("button", { class: "delete", type: "button" }, "Delete");
    edit.onclick = () => editMessage(li);
    remove.onclick = () => deleteMessage(li);
    li.append(el("div", { class: "actions" }, edit, remove));
  }
  return li;
}

// Shows a later state of a message the list has (an edit, a delete).
function applyState(m) {
  const li = [...$("messages").children].find((item) => item.dataset.uuid === m.uuid);
  if (!li || revision(m) <= li.dataset.rev) return;
  const seenLabel = li.querySelector(".seen");
  const next = messageItem({ handle: li.dataset.handle, display_name: li.dataset.displayName, ...m });
  if (seenLabel) next.append(seenLabel);
  li.replaceWith(next);
}

// The path of one of the open conversation's messages, with when it was sent
// (so the server finds it in one read).
const messagePath = (li) =>
  `/api/messages/${state.open}/${li.dataset.uuid}?${new URLSearchParams({ created_at: li.dataset.createdAt })}`;

async function editMessage(li) {
  const text = prompt("Edit your message", li.querySelector(".text").textContent);
  if (text === null) return;
  $("message-error").textContent = "";
  const reply = await api(messagePath(li), { method: "PATCH", body: JSON.stringify({ message: text }) });
  if (!reply.ok) { $("message-error").textContent = explain(reply.json?.errors || ["error"]); return; }
  applyState(reply.json);
  if (!state.socket) refreshGroups();
}

async function deleteMessage(li) {
  if (!confirm("Delete this message?")) return;
  $("message-error").textContent = "";
  const reply = await api(messagePath(li), { method: "DELETE" });
  if (!reply.ok) { $("message-error").textContent = explain(reply.json?.errors || ["error"]); return; }
  applyState(reply.json);
  if (!state.socket) refreshGroups();
}

async function openGroup(uuid) {
  state.open = uuid;
  const group = state.groups.find((g) => g.uuid === uuid);
  $("conversation-title").textContent = !group ? "Conversation"
    : group.kind === "group" ? group.display_name : `${group.display_name} (@${group.handle})`;
  $("members").hidden = true;
  if (!group || group.kind === "group") loadMembers(uuid);
  const reply = await api(`/api/messages/${uuid}?limit=20`);
  if (!reply.ok) { $("message-error").textContent = explain(reply.json?.errors || ["error"]); return; }
  state.older = reply.next;
  state.seenThrough = "";
  $("messages").replaceChildren(...reply.json.map(messageItem));
  $("messages").scrollTop = $("messages").scrollHeight;
  for (const li of $("groups").children) li.classList.toggle("active", li.dataset.uuid === uuid);
  const seenKeys = reply.json.filter((m) => m.seen === true).map(keyOf).sort();
  seen(seenKeys.pop() || "");
  markShown();
}

// "Seen" under the newest of my messages at or before `key`, the other
// member's marker (it only moves forward).
function seen(key) {
  if (key > state.seenThrough) state.seenThrough = key;
  for (const label of $("messages").querySelectorAll(".seen")) label.remove();
  const mine = [...$("messages").children].filter((li) => li.classList.contains("mine") && li.dataset.key <= state.seenThrough);
  mine.pop()?.append(el("div", { class: "seen" }, "Seen"));
}

// Marks the open conversation read up to the newest message shown, when the
// page is visible: never "now", so a message arriving unseen stays unread.
async function markShown() {
  const group = state.open;
  const last = $("messages").lastElementChild;
  if (!group || !last || document.visibilityState !== "visible") return;
  const key = last.dataset.key;
  if ((state.marked[group] || "") >= key) return;
  state.marked[group] = key;
  await api(`/api/message_groups/${group}/read`, {
    method: "POST",
    body: JSON.stringify({ uuid: last.dataset.uuid, created_at: last.dataset.createdAt }),
  });
}

// Older pages load when the list is scrolled to its top.
async function loadOlder() {
  if (!state.older || state.loadingOlder) return;
  state.loadingOlder = true;
  const list = $("messages");
  const before = list.scrollHeight;
  const reply = await api(state.older);
  if (reply.ok) {
    state.older = reply.next;
    list.prepend(...reply.json.map(messageItem));
    list.scrollTop = list.scrollHeight - before;
  }
  state.loadingOlder = false;
}

// Adds messages the list does not have yet, each in its place.
function addMessages(messages) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const known = new Set([...list.children].map((li) => li.dataset.uuid));
  for (const m of messages) {
    if (known.has(m.uuid)) { applyState(m); continue; }
    known.add(m.uuid);
    const key = keyOf(m);
    let after = list.lastElementChild;
    while (after && after.dataset.key > key) after = after.previousElementSibling;
    if (after) after.after(messageItem(m)); else list.prepend(messageItem(m));
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
  seen("");
  markShown();
}

// What the open conversation missed: every message after the last one shown.
async function catchUp() {
  // Where to start is taken now, before any await: frames that arrive
  // meanwhile are newer, and must not move the start past a gap.
  const group = state.open;
  const last = $("messages").lastElementChild;
  const groups = refreshGroups();
  if (!group || !last) return groups;
  const query = new URLSearchParams({ after_created_at: last.dataset.createdAt, after_uuid: last.dataset.uuid, limit: "100" });
  let path = `/api/messages/${group}?${query}`;
  while (path && state.open === group) {
    const reply = await api(path);
    if (!reply.ok) return;
    addMessages(reply.json);
    path = reply.next;
  }
  await groups;
}

async function poll() {
  await catchUp();
}

// A group's members, and what the signed-in user may do with them.
async function loadMembers(uuid) {
  const reply = await api(`/api/message_groups/${uuid}`);
  if (reply.ok && state.open === uuid) renderMembers(reply.json);
}

function renderMembers(group) {
  if (group.kind !== "group") { $("members").hidden = true; return; }
  $("conversation-title").textContent = group.name;
  const owner = group.members.find((m) => m.role === "owner");
  const mine = owner && owner.handle === state.me?.handle;
  $("member-list").replaceChildren(...group.members.map((m) => {
    const li = el("li", { "data-handle": m.handle }, `@${m.handle}${m.role === "owner" ? " (owner)" : ""}`);
    if (mine && m.handle !== state.me.handle) {
      const remove = el("button", { class: "remove", type: "button" }, "Remove");
      remove.onclick = () => removeMember(group.uuid, m.handle);
      li.append(" ", remove);
    }
    return li;
  }));
  $("add-form").hidden = !mine;
  $("rename-form").hidden = !mine;
  $("rename-name").value = group.name;
  $("members").hidden = false;
}

async function removeMember(uuid, handle) {
  const reply = await api(`/api/message_groups/${uuid}/members/@${handle}`, { method: "DELETE" });
  if (!reply.ok) { $("message-error").textContent = failure(reply); return; }
  if (handle === state.me.handle) leftGroup(uuid); else loadMembers(uuid);
}

// Off the page: a group the user left or was removed from.
function leftGroup(uuid) {
  const old = state.groups.find((g) => g.uuid === uuid);
  if (old) setTotal(state.total - old.unread_count);
  state.groups = state.groups.filter((g) => g.uuid !== uuid);
  renderGroups();
  if (state.open !== uuid) return;
  state.open = null;
  $("members").hidden = true;
  $("messages").replaceChildren();
  $("conversation-title").textContent = "You are no longer in that group";
}

const handlesOf = (text) => text.split(/[\s,]+/).map((h) => h.replace(/^@/, "")).filter(Boolean);

$("group-form").onsubmit = async (event) => {
  event.preventDefault();
  $("message-error").textContent = "";
  const body = { name: $("group-name").value, handles: handlesOf($("group-handles").value) };
  const reply = await api("/api/message_groups", { method: "POST", body: JSON.stringify(body) });
  if (!reply.ok) { $("message-error").textContent = failure(reply); return; }
  $("group-name").value = "";
  $("group-handles").value = "";
  await openGroup(reply.json.uuid);
};

$("add-form").onsubmit = async (event) => {
  event.preventDefault();
  const body = { handles: handlesOf($("add-handles").value) };
  const reply = await api(`/api/message_groups/${state.open}/members`, { method: "POST", body: JSON.stringify(body) });
  if (!reply.ok) { $("message-error").textContent = failure(reply); return; }
  $("add-handles").value = "";
  renderMembers(reply.json);
};

$("rename-form").onsubmit = async (event) => {
  event.preventDefault();
  const reply = await api(`/api/message_groups/${state.open}`, { method: "PATCH", body: JSON.stringify({ name: $("rename-name").value }) });
  if (!reply.ok) { $("message-error").textContent = failure(reply); return; }
  renderMembers(reply.json);
};

$("leave").onclick = () => state.open && removeMember(state.open, state.me.handle);

function updateCounter() {
  const length = [...$("message-input").value.trim()].length;
  $("counter").textContent = `${length} / ${MAX}`;
  $("counter").classList.toggle("over", length > MAX);
}

async function send(body) {
  $("message-error").textContent = "";
  const reply = await api("/api/messages", { method: "POST", body: JSON.stringify(body) });
  if (!reply.ok) { $("message-error").textContent = failure(reply); return null; }
  return reply.json;
}

$("message-form").onsubmit = async (event) => {
  event.preventDefault();
  if (!state.open) { $("message-error").textContent = "Pick or start a conversation first."; return; }
  const sent = await send({ message: $("message-input").value, message_group_uuid: state.open });
  if (!sent) return;
  $("message-input").value = "";
  updateCounter();
  addMessages([sent]);
  $("messages").scrollTop = $("messages").scrollHeight;
  if (!state.socket) refreshGroups();
};

$("new-form").onsubmit = async (event) => {
  event.preventDefault();
  const handle = $("new-handle").value.trim();
  const text = $("message-input").value.trim() || "Hello!";
  const sent = await send({ message: text, handle });
  if (!sent) return;
  $("new-handle").value = "";
  $("message-input").value = "";
  updateCounter();
  await refreshGroups();
  await openGroup(sent.message_group_uuid);
};

$("token-form").onsubmit = (event) => { event.preventDefault(); signIn($("token-input").value.trim()); };
$("message-input").oninput = updateCounter;
$("messages").onscroll = () => { if ($("messages").scrollTop < 40) loadOlder(); };
$("signout").onclick = signOut;
document.addEventListener("visibilitychange", markShown);

const saved = sessionStorage.getItem("token");
if (saved) signIn(saved); else showSignIn();
