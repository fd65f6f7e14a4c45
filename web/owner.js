// The owner page (`/`): sign in, pick one of your restaurants and one of its slots (the logo,
// the cover, the gallery positions), see what each slot shows now, pick or drop files, see each
// refused with the rule it broke or sent with a progress bar (a large file in parts, which
// resume after a reload when the same file is picked again), and follow your uploads as they
// move through the checks and the review. Status changes arrive live over the server's event
// stream (live.js), and each one reloads the list once; no timer polls while the stream is up.
// Where the server has no stream (AWS: 404) or while it is down between reconnects, the list
// polls while any upload (or a file being sent) is not final, every 2 s at first, backing off
// to 30 s while nothing changes, and stops once all is final. A publish it sees refreshes the
// slots. `window.vettedLive` says which mode the page is in and counts the polls, for tests.

import {
  $, h, api, ApiError, announce, statusBadge, formatBytes, formatDimensions, timeAgo, startRelativeClock,
  slotLabel, slotKind, policySummary, FINAL_STATUSES, WITHDRAWABLE_STATUSES, STATUS_TEXT, DECLINE_REASONS, TYPE_NAMES,
} from "/assets/common.js";
import { followStream } from "/assets/live.js";
import { createSession } from "/assets/session.js";
import { emailToggle } from "/assets/email_toggle.js";
import { checkFile, checkDimensions, fetchPolicy, readDimensions, requestUpload, postFile } from "/assets/upload.js";
import { forgetUpload, savedUploads, sendInParts, usesMultipart } from "/assets/multipart.js";

const POLL_FIRST_MS = 2000;
const POLL_MAX_MS = 30000;
const RETRY_AFTER_ERROR_MS = 5000;
const PAGE_SIZE = 20;

const list = $("#upload-list");
const transfersList = $("#transfers");
const resumables = $("#resumables");
const restaurantSelect = $("#restaurant-select");
const slotSelect = $("#slot-select");
const input = $("#file-input");
const zone = $("#dropzone");
const state = {
  first: [], // the newest page, polled
  older: [], // pages loaded with "Show older", not polled (they are nearly always final)
  next: null,
  rows: new Map(), // upload id -> { signature, status, element }
  transfers: new Set(), // files being sent or refused, shown above the list
  previews: new Map(), // upload id -> object URL of the file sent from this tab
  loaded: false,
  timer: null,
  generation: 0, // bumps on sign-out, so answers to an old session's requests are dropped
  policy: null, // the promise of the server's upload policies, fetched after sign-in
  user: null, // the token's subject, whose restaurant choice is remembered
  restaurants: [], // the caller's restaurants, `{id, name, role}`
  restaurant: null, // the id chosen in the picker
  slots: [], // its slots, as `GET /api/restaurants/{id}/slots` lists them
  slot: null, // where the next file goes: `logo`, `cover` or `gallery-N`
  slotsReload: null, // a reload of the slots already queued by a status change
  stream: null, // the live stream while signed in, `{ stop() }`
  pollDelay: POLL_FIRST_MS, // the next poll's wait, while polling
  listSignature: "", // the newest page as last read, to tell whether a poll saw a change
  reloading: null, // a list reload in flight for stream events; `again` queues one more
  again: false,
};

// How the list keeps up, for people debugging and for the browser tests: `mode` is
// `connecting`, `stream` (no timer polls) or `poll`; `polls` counts list reads made by the
// poll timer and `pollsArmed` the times that timer was set (whether or not it fired),
// `streamReloads` the finished reads made because the stream said something changed, `events`
// the changes the stream carried.
const live = { mode: "off", polls: 0, pollsArmed: 0, streamReloads: 0, events: 0 };
window.vettedLive = live;

const outcomeEmails = emailToggle({
  id: "outcome-emails",
  path: "/api/me/notifications",
  token: () => session.token(),
});

const session = createSession({
  role: "owner",
  onSignIn: (token, claims) => {
    state.generation += 1;
    state.policy = null;
    state.user = claims.sub || null;
    setUploadsEnabled(false); // until a restaurant's slots say where files can go
    // Fetched now so that the first file is checked at once; a failure is reported then.
    uploadPolicy().then(showTarget, () => {});
    loadRestaurants();
    refresh();
    startStream();
    outcomeEmails.load();
  },
  onSignOut: () => {
    outcomeEmails.reset();
    state.generation += 1;
    state.policy = null;
    clearTimeout(state.timer);
    state.stream?.stop();
    state.stream = null;
    live.mode = "off";
    Object.assign(state, { first: [], older: [], next: null, loaded: false });
    Object.assign(state, { user: null, restaurants: [], restaurant: null, slots: [], slot: null });
    state.rows.clear();
    list.replaceChildren();
    transfersList.replaceChildren();
    state.transfers.clear();
    resumables.replaceChildren();
    resumables.hidden = true;
    restaurantSelect.replaceChildren();
    slotSelect.replaceChildren();
    $("#slot-board").replaceChildren();
  },
});

// ---- restaurants and their slots --------------------------------------------------------

function rememberedRestaurant() {
  try {
    return localStorage.getItem(`vetted.restaurant.${state.user}`);
  } catch {
    return null; // storage may be off; the first restaurant is then the default
  }
}

function rememberRestaurant(id) {
  try {
    localStorage.setItem(`vetted.restaurant.${state.user}`, id);
  } catch {
    // Not remembered: the page still works.
  }
}

async function loadRestaurants() {
  const generation = state.generation;
  try {
    const { data } = await api(session.token(), "GET", "/api/restaurants");
    if (generation !== state.generation) return;
    state.restaurants = data.items;
    showRestaurants();
  } catch (error) {
    if (generation !== state.generation || session.refuse(error)) return;
    showSlotsError(`Your restaurants could not be loaded, so nothing can be uploaded: ${error.message}`);
    setUploadsEnabled(false);
  }
}

function showRestaurants() {
  const none = state.restaurants.length === 0;
  const notice = $("#no-restaurant");
  notice.textContent = "You are not a member of any restaurant yet, so there is nowhere to upload to. Ask an admin to add you to yours.";
  notice.hidden = !none;
  $("#target").hidden = none;
  $("#slots").hidden = none;
  setUploadsEnabled(!none);
  restaurantSelect.replaceChildren(
    ...state.restaurants.map((r) => h("option", { value: r.id }, r.role === "staff" ? `${r.name} (staff)` : r.name)),
  );
  // Rows built before the names arrived show ids; now they can show names.
  render();
  renderResumables();
  if (none) return;
  // The one chosen last time; else the first the caller owns rather than only works at.
  const remembered = state.restaurants.find((r) => r.id === rememberedRestaurant());
  const owned = state.restaurants.find((r) => r.role === "owner");
  chooseRestaurant((remembered || owned || state.restaurants[0]).id);
}

function chooseRestaurant(id) {
  state.restaurant = id;
  restaurantSelect.value = id;
  rememberRestaurant(id);
  state.slots = [];
  setUploadsEnabled(false);
  renderSlots();
  loadSlots();
}

function restaurantName(id) {
  return state.restaurants.find((r) => r.id === id)?.name || id;
}

/** Loads the chosen restaurant's slots and shows them. */
async function loadSlots() {
  const generation = state.generation;
  const restaurant = state.restaurant;
  if (!restaurant) return;
  try {
    const { data } = await api(session.token(), "GET", `/api/restaurants/${encodeURIComponent(restaurant)}/slots`);
    if (generation !== state.generation || restaurant !== state.restaurant) return;
    state.slots = data.items;
    $("#slots-error").hidden = true;
    if (!state.slots.some((s) => s.slot === state.slot)) {
      // The first empty slot is the likeliest next upload; with none empty, the logo.
      state.slot = (state.slots.find((s) => !s.live) || state.slots[0])?.slot ?? null;
    }
    renderSlots();
    setUploadsEnabled(Boolean(state.slot));
  } catch (error) {
    if (generation !== state.generation || session.refuse(error)) return;
    showSlotsError(`The slots of ${restaurantName(restaurant)} could not be loaded: ${error.message}`);
  }
}

/**
 * After a status change the list saw in the chosen restaurant: a request became pending or
 * stopped being so, or a publish changed the live image (the slot was offered the image before
 * the upload became PUBLISHED, so one reload shows it, or the later decision that kept it out).
 * Changes seen in one poll share one reload.
 */
function followChange(item) {
  if (item.restaurant !== state.restaurant || state.slotsReload) return;
  state.slotsReload = Promise.resolve().then(() => {
    state.slotsReload = null;
    return loadSlots();
  });
}

function showSlotsError(text) {
  const box = $("#slots-error");
  box.textContent = text;
  box.hidden = false;
}

function setUploadsEnabled(enabled) {
  input.disabled = !enabled;
  zone.classList.toggle("is-disabled", !enabled);
  zone.setAttribute("aria-disabled", String(!enabled));
}

function renderSlots() {
  $("#slots-restaurant").textContent = state.restaurant ? restaurantName(state.restaurant) : "";
  slotSelect.replaceChildren(
    ...state.slots.map((s) => h("option", { value: s.slot }, s.live ? slotLabel(s.slot) : `${slotLabel(s.slot)} (empty)`)),
  );
  if (state.slot) slotSelect.value = state.slot;
  // Rebuilding the tiles must not lose the keyboard's place on a slot's button.
  const focused = document.activeElement?.closest?.(".slot-tile")?.dataset.slot;
  const featured = state.slots.filter((s) => s.kind !== "gallery").map(slotTile);
  const gallery = state.slots.filter((s) => s.kind === "gallery").map(slotTile);
  $("#slot-board").replaceChildren(
    h("ul", { class: "slot-row slot-featured", "aria-label": "Logo and cover" }, featured),
    gallery.length ? h("h3", { class: "slot-group", id: "gallery-title" }, "Gallery") : null,
    gallery.length ? h("ul", { class: "slot-row slot-gallery", "aria-labelledby": "gallery-title" }, gallery) : null,
  );
  if (focused) $(`.slot-tile[data-slot="${focused}"] .slot-choose`)?.focus();
  showTarget();
}

/** One slot: what it shows now (or an empty frame), its size, and a button to send it a file. */
function slotTile(slot) {
  const name = slotLabel(slot.slot);
  const live = slot.live;
  const src = live && (live.url || slot.live_url);
  const target = slot.slot === state.slot;
  let picture;
  if (src) {
    picture = h("img", { src, alt: `${name}, live now`, decoding: "async" });
    picture.addEventListener("error", () => picture.replaceWith(h("span", { class: "slot-empty" }, "Image unavailable")));
  } else {
    picture = h("span", { class: "slot-empty" }, live ? "Published" : slot.previous_upload_id ? "Image removed" : "No image yet");
  }
  return h(
    "li",
    {
      class: `slot-tile slot-${slot.kind}${target ? " is-target" : ""}`,
      "data-slot": slot.slot,
      "data-upload-id": live?.upload_id,
      "aria-current": target ? "true" : undefined,
    },
    h("div", { class: "slot-frame" }, picture),
    h("div", { class: "slot-info" },
      h("p", { class: "slot-name" }, name),
      h("p", { class: "slot-dims" }, live ? formatDimensions(live.width, live.height) : "Empty"),
      pendingNote(slot.pending)),
    h("button", {
      type: "button",
      class: "button small slot-choose",
      "aria-label": live ? `Replace the ${name.toLowerCase()}` : `Add an image to ${name.toLowerCase()}`,
      onclick: () => {
        chooseSlot(slot.slot);
        if (!input.disabled) input.click();
      },
    }, live ? "Replace" : "Add"),
    live && slot.kind === "gallery" && isOwner() ? removeButton(slot, name) : null,
  );
}

function isOwner() {
  return state.restaurants.find((r) => r.id === state.restaurant)?.role === "owner";
}

/**
 * Takes a gallery image down at once (owners only). Asks once more on the button itself: the
 * first press arms it for a few seconds, the second removes. A moderator can put the image
 * back from the slot's history.
 */
function removeButton(slot, name) {
  const label = `Remove the image in ${name.toLowerCase()}`;
  const button = h("button", {
    type: "button",
    class: "button small ghost slot-remove",
    "aria-label": label,
    onclick: async () => {
      if (button.dataset.armed !== "true") {
        button.dataset.armed = "true";
        button.classList.add("is-armed");
        button.textContent = "Confirm";
        button.setAttribute("aria-label", `Confirm: ${label.toLowerCase()}`);
        setTimeout(() => {
          if (!button.isConnected || button.disabled) return;
          button.dataset.armed = "false";
          button.classList.remove("is-armed");
          button.textContent = "Remove";
          button.setAttribute("aria-label", label);
        }, 5000);
        return;
      }
      button.disabled = true;
      const restaurant = state.restaurant;
      try {
        await api(session.token(), "POST",
          `/api/restaurants/${encodeURIComponent(restaurant)}/slots/${encodeURIComponent(slot.slot)}/remove`,
          { expected_revision: slot.revision });
        announce(`The image in ${name.toLowerCase()} was removed.`);
      } catch (error) {
        if (session.refuse(error)) return;
        announce(`The image in ${name.toLowerCase()} could not be removed: ${error.message}`);
      }
      if (restaurant === state.restaurant) loadSlots();
    },
  }, "Remove");
  return button;
}

/** "New image in review" under a slot with requests in progress; the live image stays until one is published. */
function pendingNote(pending) {
  if (!pending?.length) return null;
  const first = STATUS_TEXT[pending[0].status]?.label.toLowerCase() || pending[0].status;
  const text = pending.length === 1 ? `New image ${first}` : `${pending.length} new images pending`;
  return h("p", { class: "slot-pending", title: pending.map((p) => p.filename).join(", ") }, text);
}

function chooseSlot(slot) {
  state.slot = slot;
  slotSelect.value = slot;
  for (const tile of document.querySelectorAll(".slot-tile")) {
    const target = tile.dataset.slot === slot;
    tile.classList.toggle("is-target", target);
    if (target) tile.setAttribute("aria-current", "true");
    else tile.removeAttribute("aria-current");
  }
  showTarget();
}

/** The drop zone says where the next file goes and what that slot takes. */
async function showTarget() {
  const hint = $("#dropzone-hint");
  const slot = state.slot;
  let policies = null;
  try {
    policies = await uploadPolicy();
  } catch {
    policies = null; // said when a file is sent
  }
  if (slot !== state.slot) return;
  const policy = policies && slot && policies[slotKind(slot)];
  if (!policy) {
    hint.textContent = "JPEG, PNG or WebP";
    return;
  }
  const summary = policySummary(policy);
  // The picker offers what the slot takes; checkFile still checks every file, dropped ones too.
  const extensions = policy.allowed_types.flatMap((type) => policy.allowed_extensions[type].map((e) => `.${e}`));
  $("#file-input").accept = [...policy.allowed_types, ...extensions].join(",");
  const types = policy.allowed_types.map((type) => TYPE_NAMES[type] || type).join(", ");
  const parts = [`${slotLabel(slot)}: ${types}`, `at least ${policy.min_side} × ${policy.min_side} px`];
  if (summary.aspect !== "any") parts.push(`aspect ${summary.aspect}`);
  parts.push(`up to ${summary.maxBytes}`);
  hint.textContent = parts.join(" · ");
}

// ---- live status ------------------------------------------------------------------------

function startStream() {
  state.stream?.stop();
  live.mode = "connecting";
  const generation = state.generation;
  const mine = (f) => (...args) => { if (generation === state.generation) f(...args); };
  state.stream = followStream({
    token: () => session.token(),
    onOpen: mine(() => {
      live.mode = "stream";
      clearTimeout(state.timer);
      reloadForStream(); // whatever changed before the stream was up
    }),
    onChange: mine(() => {
      live.events += 1;
      reloadForStream();
    }),
    onReset: mine(() => reloadForStream()),
    onDown: mine(() => startPolling()),
    onUnavailable: mine(() => startPolling()),
    onRefused: mine((status, reason, message) => session.refuse(new ApiError(status, reason, message))),
  });
}

/** The stream is absent or down: poll, from the first delay, while anything is unsettled. */
function startPolling() {
  live.mode = "poll";
  state.pollDelay = POLL_FIRST_MS;
  schedule(state.pollDelay);
}

/** One list read per burst of stream events: events during a read queue one more read. */
function reloadForStream() {
  if (state.reloading) {
    state.again = true;
    return;
  }
  state.reloading = refresh().finally(() => {
    live.streamReloads += 1; // counted once done, as the browser's own record of requests is
    state.reloading = null;
    if (state.again) {
      state.again = false;
      reloadForStream();
    }
  });
}

// ---- the list ---------------------------------------------------------------------------

async function refresh() {
  clearTimeout(state.timer);
  const generation = state.generation;
  const token = session.token();
  if (!token) return;
  try {
    const { data } = await api(token, "GET", `/api/uploads?limit=${PAGE_SIZE}`);
    if (generation !== state.generation) return;
    state.first = data.items;
    if (!state.loaded) state.next = data.next || null;
    $("#list-error").hidden = true;
    render();
    state.loaded = true;
    // Polling backs off while nothing changes and starts over when something does.
    const signature = JSON.stringify(data.items.map((item) => [item.upload_id, item.status]));
    state.pollDelay = signature === state.listSignature ? Math.min(state.pollDelay * 2, POLL_MAX_MS) : POLL_FIRST_MS;
    state.listSignature = signature;
    schedule(state.pollDelay);
  } catch (error) {
    if (generation !== state.generation || session.refuse(error)) return;
    showListError(`${error.message} Retrying…`);
    schedule(RETRY_AFTER_ERROR_MS);
  }
}

/** Shows whether the list is following anything, and sets the poll timer when polling. */
function schedule(delay) {
  clearTimeout(state.timer);
  const sending = [...state.transfers].some((t) => t.active);
  const unsettled = state.first.some((item) => !FINAL_STATUSES.has(item.status));
  const following = sending || unsettled || !$("#list-error").hidden;
  $("#live").hidden = !following;
  // With the stream up (or still connecting) changes come to us; no timer.
  if (following && live.mode === "poll") {
    live.pollsArmed += 1;
    state.timer = setTimeout(poll, delay);
  }
}

function poll() {
  live.polls += 1;
  refresh();
}

async function loadOlder() {
  const button = $("#more");
  button.disabled = true;
  try {
    const { data } = await api(session.token(), "GET", `/api/uploads?limit=${PAGE_SIZE}&after=${encodeURIComponent(state.next)}`);
    state.older.push(...data.items);
    state.next = data.next || null;
    render();
  } catch (error) {
    if (!session.refuse(error)) showListError(error.message);
  } finally {
    button.disabled = false;
  }
}

function showListError(text) {
  const box = $("#list-error");
  box.textContent = text;
  box.hidden = false;
}

function render() {
  const hidden = new Set([...state.transfers].map((t) => t.uploadId).filter(Boolean));
  const seen = new Set();
  const items = [...state.first, ...state.older].filter((item) => {
    if (seen.has(item.upload_id) || hidden.has(item.upload_id)) return false;
    seen.add(item.upload_id);
    return true;
  });
  const rows = items.map((item) => rowFor(item));
  for (const id of [...state.rows.keys()]) if (!seen.has(id)) state.rows.delete(id);
  // Moving only what changed keeps focus and text selection where they were.
  rows.forEach((row, index) => {
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  while (list.children.length > rows.length) list.lastElementChild.remove();
  $("#empty").hidden = items.length > 0 || state.transfers.size > 0;
  $("#more").hidden = !state.next;
}

function rowFor(item) {
  const signature = JSON.stringify(item) + restaurantName(item.restaurant) + (state.previews.has(item.upload_id) ? "+preview" : "");
  const known = state.rows.get(item.upload_id);
  if (known && known.signature === signature) return known.element;
  const element = buildRow(item);
  if (known && known.status !== item.status) {
    highlight(element, "is-changed");
    announce(`${item.filename}: ${STATUS_TEXT[item.status]?.label || item.status}. ${detailText(item)}`);
    followChange(item);
  } else if (!known && state.loaded) {
    highlight(element, "is-new");
  }
  if (known) known.element.replaceWith(element);
  state.rows.set(item.upload_id, { signature, status: item.status, element });
  return element;
}

/** Flashes a row that just appeared or changed; the class goes when the animation is over. */
function highlight(element, name) {
  element.classList.add(name);
  setTimeout(() => element.classList.remove(name), 1700);
}

function buildRow(item) {
  const type = TYPE_NAMES[item.detected_type || item.content_type] || item.content_type;
  // The file sent from this tab, or else the published image itself.
  const preview = state.previews.get(item.upload_id) || (item.status === "PUBLISHED" && item.url) || null;
  const meta = [type, formatDimensions(item.width, item.height), formatBytes(item.bytes ?? item.size)]
    .filter(Boolean)
    .join(" · ");
  const link = item.url
    ? h("a", { class: "upload-link", href: item.url, target: "_blank", rel: "noopener" }, "Open the published image")
    : null;
  return h(
    "li",
    {
      class: `upload tone-${STATUS_TEXT[item.status]?.tone || "neutral"}`,
      "data-upload-id": item.upload_id,
      "data-status": item.status,
      "data-restaurant": item.restaurant,
      "data-slot": item.slot,
    },
    h("div", { class: "thumb", "aria-hidden": "true" },
      preview ? h("img", { src: preview, alt: "" }) : h("span", { class: "thumb-type" }, type)),
    h("div", { class: "upload-main" },
      h("p", { class: "upload-name", title: item.filename }, item.filename),
      h("p", { class: "upload-target" },
        h("span", { class: "upload-restaurant" }, restaurantName(item.restaurant)), " · ",
        h("span", { class: "upload-slot" }, slotLabel(item.slot))),
      h("p", { class: "upload-meta" }, meta, " · ", timeAgo(item.created_at))),
    h("div", { class: "upload-state" },
      statusBadge(item.status),
      stepper(item),
      h("p", { class: "upload-detail" },
        detailText(item), " ", link, item.reason ? h("code", { class: "reason-code" }, item.reason) : null),
      WITHDRAWABLE_STATUSES.has(item.status) ? withdrawButton(item) : null),
  );
}

/** Takes a request back before a moderator decides it; the slot keeps its live image. */
function withdrawButton(item) {
  const button = h("button", {
    type: "button",
    class: "button small withdraw",
    "aria-label": `Withdraw ${item.filename}`,
    onclick: async () => {
      button.disabled = true;
      try {
        await api(session.token(), "POST", `/api/uploads/${encodeURIComponent(item.upload_id)}/withdraw`);
        announce(`${item.filename} withdrawn. The ${slotLabel(item.slot).toLowerCase()} did not change.`);
      } catch (error) {
        if (session.refuse(error)) return;
        button.disabled = false;
        announce(`${item.filename} could not be withdrawn: ${error.message}`);
      }
      refresh();
    },
  }, "Withdraw");
  return button;
}

function detailText(item) {
  if (item.status === "DECLINED") {
    const reason = DECLINE_REASONS.find((r) => r.code === item.decline_reason);
    return reason ? `A moderator declined it: ${reason.label.toLowerCase()}.` : STATUS_TEXT.DECLINED.detail;
  }
  if (item.reason_message) {
    // The server names the rule broken ("logo must be at least 512×512 pixels"), as it is.
    const message = item.reason_message.trim();
    return `Not accepted: ${message}${/[.!?]$/.test(message) ? "" : "."}`;
  }
  return STATUS_TEXT[item.status]?.detail || "";
}

/** Four steps (sent, checked, reviewed, published): how far the upload got, drawn, not read. */
function stepper(item) {
  const reached = { AWAITING_UPLOAD: 0, RECEIVED: 1, IN_REVIEW: 2, AWAITING_SECOND: 2, DECIDED: 3, APPROVED: 3, PUBLISHED: 4 };
  const stoppedAt = { REJECTED: 1, DECLINED: 2, FAILED: 1, EXPIRED: item.bytes ? 2 : 0, WITHDRAWN: item.bytes ? 2 : 0 };
  const done = reached[item.status] ?? stoppedAt[item.status] ?? 0;
  const stopped = item.status in stoppedAt;
  const names = ["Sent", "Checked", "Reviewed", "Published"];
  return h("ol", { class: "steps", "aria-hidden": "true" },
    names.map((name, index) => {
      let cls = "step";
      if (index < done) cls += " is-done";
      else if (index === done && stopped) cls += " is-stopped";
      else if (index === done) cls += " is-current";
      return h("li", { class: cls, title: name });
    }));
}

// ---- sending files ----------------------------------------------------------------------

/** The server's upload policies, fetched once per sign-in; a failed fetch is tried again next time. */
function uploadPolicy() {
  if (!state.policy) {
    const generation = state.generation;
    state.policy = fetchPolicy(session.token()).catch((error) => {
      if (generation === state.generation) state.policy = null;
      throw error;
    });
  }
  return state.policy;
}

async function send(file, target) {
  const generation = state.generation;
  const transfer = { file, target, active: true, uploadId: null, element: null };
  transfer.element = h("li", { class: "transfer", "data-state": "checking" });
  state.transfers.add(transfer);
  transfersList.prepend(transfer.element);
  $("#empty").hidden = true;
  if (!target.slot) {
    return finish(transfer, "refused", target.why, null);
  }
  show(transfer, "checking", "Checking the image…");

  let policies;
  try {
    policies = await uploadPolicy();
  } catch (error) {
    if (session.refuse(error)) return;
    return finish(transfer, "failed", `The upload rules could not be loaded, so nothing was sent: ${error.message}`, error.reason);
  }
  const kind = slotKind(target.slot);
  const policy = policies[kind];
  const verdict = checkFile(file, policy, kind);
  if (!verdict.ok) return finish(transfer, "refused", verdict.message, verdict.reason);
  // Sides, pixels and shape, where the browser can decode the image; the gate checks again.
  const dimensions = await readDimensions(file);
  if (generation !== state.generation) return;
  if (dimensions) {
    const shape = checkDimensions(dimensions, policy, kind);
    if (!shape.ok) return finish(transfer, "refused", shape.message, shape.reason);
  }
  show(transfer, "requesting", "Asking for permission to upload…");
  schedule(0);
  const bar = h("progress", { max: "100", value: "0", "aria-label": `Sending ${file.name}` });
  const percent = h("span", { class: "transfer-percent" }, "0%");
  const showProgress = (sent, total) => {
    const value = Math.round((sent / total) * 100);
    bar.value = value;
    percent.textContent = `${value}% · ${formatBytes(sent)} of ${formatBytes(total)}`;
  };
  try {
    if (usesMultipart(policies, file)) {
      await sendLarge(transfer, verdict.contentType, bar, percent, showProgress);
    } else {
      const grant = await requestUpload(session.token(), target, file, verdict.contentType);
      transfer.uploadId = grant.upload_id;
      show(transfer, "uploading", [h("span", {}, "Sending… "), percent], bar);
      await postFile(grant, file, showProgress);
    }
    state.previews.set(transfer.uploadId, URL.createObjectURL(file));
    state.transfers.delete(transfer);
    transfer.element.remove();
    announce(`${file.name} sent to the ${slotLabel(target.slot).toLowerCase()}. Checking it now.`);
    refresh();
  } catch (error) {
    if (session.refuse(error)) return;
    const verb = transfer.uploadId ? "Sending failed" : "The server refused it";
    const again = transfer.resumable
      ? ` The parts already sent are kept: pick ${file.name} again for the ${slotLabel(target.slot).toLowerCase()} to go on from there.`
      : "";
    finish(transfer, "failed", `${verb}: ${error.message}${again}`, error.reason);
    renderResumables();
  }
}

/**
 * Sends a file larger than one part in parts (multipart.js), going on from a saved upload of
 * the same file to the same slot when there is one, and says so.
 */
async function sendLarge(transfer, contentType, bar, percent, showProgress) {
  const { file, target } = transfer;
  const status = h("span", {}, "Sending… ");
  await sendInParts({
    token: () => session.token(),
    user: recordsOwner(),
    busy: new Set([...state.transfers].filter((t) => t.active && t !== transfer).map((t) => t.uploadId).filter(Boolean)),
    target,
    file,
    contentType,
    on: {
      started: ({ uploadId, partCount, resumed, restarted }) => {
        transfer.uploadId = uploadId;
        transfer.resumable = true;
        const note = resumeNote(file, partCount, resumed, restarted);
        show(transfer, "uploading", [status, percent], [bar, note]);
        if (note) announce(note.textContent);
        render(); // the list hides the row of an upload this tab is sending
        renderResumables();
      },
      progress: (sent, total, part, partCount) => {
        status.textContent = part ? `Sending part ${part} of ${partCount}… ` : "Sending… ";
        showProgress(sent, total);
      },
    },
  });
}

/** What the owner is told when a large upload goes on from where it stopped, or cannot. */
function resumeNote(file, partCount, resumed, restarted) {
  let text = null;
  if (resumed !== null) {
    const parts = partCount === 1 ? "part was" : "parts were";
    text = `Resuming your upload of ${file.name}: ${resumed} of ${partCount} ${parts} already sent.`;
  } else if (restarted) {
    text = `The earlier upload of ${file.name} can no longer be resumed (it was finished or it expired), so it starts over.`;
  }
  return text && h("p", { class: "transfer-note", role: "status" }, text);
}

// ---- large uploads left unfinished ------------------------------------------------------

/**
 * Lists the large uploads this browser started and did not finish (a reload, a lost
 * connection), with how to resume them: pick the same file for the same slot again. Uploads
 * being sent now are left out.
 */
function renderResumables() {
  const busy = new Set([...state.transfers].map((t) => t.uploadId).filter(Boolean));
  const records = savedUploads(recordsOwner()).filter((r) => !busy.has(r.uploadId));
  resumables.replaceChildren(...records.map(resumableItem));
  resumables.hidden = records.length === 0;
}

/** Whose saved uploads to use: the signed-in user's (a token without a subject shares one list). */
function recordsOwner() {
  return state.user || "anyone";
}

function resumableItem(record) {
  const slot = slotLabel(record.slot);
  return h("li", { class: "resumable", "data-upload-id": record.uploadId, "data-slot": record.slot },
    h("p", { class: "resumable-text" },
      `Your upload of ${record.name} (${formatBytes(record.size)}) to ${restaurantName(record.restaurant)} · ${slot} `,
      "was not finished. Pick the same file again for that slot to resume where it stopped."),
    h("div", { class: "resumable-actions" },
      h("button", {
        type: "button",
        class: "button small resumable-choose",
        onclick: () => {
          if (record.restaurant !== state.restaurant) {
            // The slots of the other restaurant load first; the owner then picks the file.
            state.slot = record.slot;
            chooseRestaurant(record.restaurant);
            announce(`Now choose ${record.name} again to resume it.`);
            return;
          }
          chooseSlot(record.slot);
          if (!input.disabled) input.click();
        },
      }, `Choose ${record.name} again`),
      h("button", {
        type: "button",
        class: "button small ghost resumable-forget",
        "aria-label": `Do not resume ${record.name}`,
        onclick: () => {
          forgetUpload(recordsOwner(), record.uploadId);
          renderResumables();
        },
      }, "Don’t resume")));
}

function show(transfer, stateName, statusContent, extra) {
  const { file, target } = transfer;
  transfer.element.dataset.state = stateName;
  const parts = [
    h("div", { class: "transfer-head" },
      h("span", { class: "transfer-name", title: file.name }, file.name),
      h("span", { class: "transfer-size" }, formatBytes(file.size))),
    target.slot && h("p", { class: "transfer-target" }, `For ${restaurantName(target.restaurant)} · ${slotLabel(target.slot)}`),
    h("p", { class: "transfer-status" }, statusContent),
    ...[extra].flat(),
  ];
  transfer.element.replaceChildren(...parts.filter(Boolean));
}

/** A file that will not be sent: its reason stays in place until dismissed. */
function finish(transfer, stateName, message, reason) {
  transfer.active = false;
  show(transfer, stateName, stateName === "refused" ? "Refused before sending" : "Not uploaded");
  transfer.element.append(
    h("p", { class: "transfer-reason" }, message, reason ? h("code", { class: "reason-code" }, reason) : null),
    h("button", {
      type: "button",
      class: "dismiss",
      "aria-label": `Dismiss the message about ${transfer.file.name}`,
      onclick: () => {
        state.transfers.delete(transfer);
        transfer.element.remove();
        render();
        renderResumables();
      },
    }, "×"),
  );
  announce(`${transfer.file.name} was not uploaded. ${message}`);
}

function sendAll(files) {
  if (!state.restaurant || !state.slot) return;
  files.forEach((file, index) => send(file, targetOf(index)));
}

/**
 * Where the `index`-th of the files picked together goes: the gallery spreads them over the
 * positions from the one chosen on; the logo and the cover take one image, so a second one is
 * not sent (`{why}` says so).
 */
function targetOf(index) {
  const { restaurant, slot } = state;
  if (index === 0) return { restaurant, slot };
  if (slotKind(slot) !== "gallery") {
    return { restaurant, slot: null, why: `The ${slotLabel(slot).toLowerCase()} takes one image, and another file went there. Choose a slot for this one and send it again.` };
  }
  const order = state.slots.map((s) => s.slot);
  const next = order[order.indexOf(slot) + index];
  if (next && slotKind(next) === "gallery") return { restaurant, slot: next };
  return { restaurant, slot: null, why: `No gallery position is left after ${slotLabel(slot)} for this file. Choose a slot for it and send it again.` };
}

restaurantSelect.addEventListener("change", () => chooseRestaurant(restaurantSelect.value));
slotSelect.addEventListener("change", () => chooseSlot(slotSelect.value));

input.addEventListener("change", () => {
  sendAll([...input.files]);
  input.value = ""; // picking the same file again must fire "change" again
});

zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("is-dragging");
});
zone.addEventListener("dragleave", () => zone.classList.remove("is-dragging"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("is-dragging");
  if (session.token() && !input.disabled) sendAll([...event.dataTransfer.files]);
});
// A file dropped beside the zone must not make the browser navigate away to show it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

$("#more").addEventListener("click", loadOlder);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && session.token()) refresh();
});

startRelativeClock();
session.start();
