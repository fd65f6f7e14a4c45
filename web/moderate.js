// The moderator console (`/moderate`): the pending queue as cards, each showing the proposed
// image beside the one its restaurant's slot shows now, with the slot kind's rules; a filter by
// slot kind; approve or decline without reloading, driven by the keyboard (J/K move, A approves,
// D then 1-5 declines, R refreshes, ? helps). When another moderator decided first (409) or the
// review timed out (410), a banner says so and the card leaves the queue.

import {
  $, h, api, announce, formatBytes, formatDimensions, timeSince, startRelativeClock,
  slotLabel, policySummary, DECLINE_REASONS, TYPE_NAMES,
} from "/assets/common.js";
import { createSession } from "/assets/session.js";
import { emailToggle } from "/assets/email_toggle.js";

const PAGE_SIZE = 50;
const CHECK_EVERY_MS = 10000;
const KINDS = ["logo", "cover", "gallery"];
const queueBox = $("#queue");
const state = {
  order: [], // upload ids, oldest first, as shown
  cards: new Map(), // upload id -> { item, element, busy, declining }
  current: null,
  next: null,
  waitingNew: [], // items a background check found, shown on "R" so cards never jump
  timer: null,
  generation: 0,
  focusOnLoad: true,
  kind: kindFromAddress(), // the slot kind shown ("" for all), kept in the address as ?kind=
  queue: queueFromAddress(), // "pending" (first review) or "second" (four-eyes), as ?queue=
};

const session = createSession({
  role: "moderator",
  onSignIn: () => {
    state.generation += 1;
    state.focusOnLoad = true;
    load();
    escalationEmails.load();
  },
  onSignOut: () => {
    escalationEmails.reset();
    state.generation += 1;
    clearTimeout(state.timer);
    state.order = [];
    state.cards.clear();
    state.current = null;
    queueBox.replaceChildren();
    $("#banners").replaceChildren();
  },
});

const escalationEmails = emailToggle({
  id: "escalation-emails",
  path: "/api/me/escalations",
  token: () => session.token(),
});

// ---- loading ----------------------------------------------------------------------------

function kindFromAddress() {
  const kind = new URLSearchParams(location.search).get("kind");
  return KINDS.includes(kind) ? kind : "";
}

function queueFromAddress() {
  return new URLSearchParams(location.search).get("queue") === "second" ? "second" : "pending";
}

/** The query of `GET /api/reviews` for the queue and kind shown, and `more` (e.g. `after=...`). */
function reviewsQuery(more = "") {
  const kind = state.kind ? `&kind=${state.kind}` : "";
  return `/api/reviews?status=${state.queue}&limit=${PAGE_SIZE}${kind}${more}`;
}

/** Loads the queue. In the background it only reports new uploads, unless the queue is empty. */
async function load({ background = false } = {}) {
  clearTimeout(state.timer);
  const generation = state.generation;
  const token = session.token();
  if (!token) return;
  try {
    const { data } = await api(token, "GET", reviewsQuery());
    if (generation !== state.generation) return;
    $("#queue-error").hidden = true;
    if (background && state.order.length > 0) {
      state.waitingNew = data.items.filter((item) => !state.cards.has(item.upload_id));
      showNewItems();
    } else {
      state.next = data.next || null;
      show(data.items);
    }
  } catch (error) {
    if (generation !== state.generation || session.refuse(error)) return;
    if (!background) {
      const box = $("#queue-error");
      box.textContent = `The queue could not be loaded: ${error.message}`;
      box.hidden = false;
    }
  }
  state.timer = setTimeout(() => load({ background: true }), CHECK_EVERY_MS);
}

async function loadMore() {
  try {
    const kind = state.kind;
    const { data } = await api(session.token(), "GET", reviewsQuery(`&after=${encodeURIComponent(state.next)}`));
    if (kind !== state.kind) return; // the filter changed meanwhile
    state.next = data.next || null;
    show([...state.order.map((id) => state.cards.get(id).item), ...data.items]);
  } catch (error) {
    if (!session.refuse(error)) banner("error", `More uploads could not be loaded: ${error.message}`);
  }
}

function showNewItems() {
  const pill = $("#new-items");
  const count = state.waitingNew.length;
  pill.hidden = count === 0;
  pill.textContent = count === 1 ? "1 new upload is waiting · show it (R)" : `${count} new uploads are waiting · show them (R)`;
}

/** Shows exactly `items`, reusing the cards already on screen so that nothing flickers. */
function show(items) {
  state.waitingNew = [];
  showNewItems();
  const ids = new Set(items.map((item) => item.upload_id));
  for (const [id, card] of state.cards) {
    if (!ids.has(id) && !card.busy) {
      card.element.remove();
      state.cards.delete(id);
    }
  }
  items.forEach((item, index) => {
    let card = state.cards.get(item.upload_id);
    if (!card) {
      card = { item, element: buildCard(item), busy: false, declining: false };
      state.cards.set(item.upload_id, card);
    } else if (!card.busy && (card.item.preview_url !== item.preview_url || card.item.live?.url !== item.live?.url)) {
      // Fresh presigned URLs replace ones that may have expired, and the slot may have changed.
      card.item = item;
      const fresh = buildCard(item);
      card.element.replaceWith(fresh);
      card.element = fresh;
    }
    if (queueBox.children[index] !== card.element) {
      queueBox.insertBefore(card.element, queueBox.children[index] || null);
    }
  });
  state.order = items.map((item) => item.upload_id);
  if (!state.cards.has(state.current)) state.current = state.order[0] || null;
  select(state.current, { focus: state.focusOnLoad });
  state.focusOnLoad = false;
  updateCount();
}

function updateCount() {
  const n = state.order.length;
  $("#count").textContent = n === 0 ? "Nothing waiting" : `${n}${state.next ? "+" : ""} waiting`;
  $("#empty").hidden = n > 0;
  const what = state.kind ? `${state.kind} image` : "image";
  const waitingFor = state.queue === "second" ? "a second approval" : "review";
  $("#empty-text").textContent = `No ${what} is waiting for ${waitingFor}. New uploads appear here by themselves.`;
  $("#more").hidden = !state.next;
}

// ---- cards ------------------------------------------------------------------------------

function buildCard(item) {
  const id = item.upload_id;
  const type = TYPE_NAMES[item.detected_type] || item.detected_type || "Image";
  const fact = (name, ...value) => h("div", { class: "fact" }, h("dt", {}, name), h("dd", {}, ...value));
  const rule = (name, value) => h("div", { class: "fact rule" }, h("dt", {}, name), h("dd", {}, value));
  const rules = item.policy ? policySummary(item.policy) : null;
  const slot = slotLabel(item.slot);
  const preview = h("img", { src: item.preview_url, alt: `Preview of ${item.filename}`, decoding: "async" });
  preview.addEventListener("error", () => {
    preview.replaceWith(h("p", { class: "preview-missing" }, "Preview unavailable. Press R to refresh the queue."));
  });
  const element = h(
    "article",
    { class: "review-card", role: "listitem", tabindex: "0", "data-upload-id": id, "data-slot": item.slot, "data-kind": item.kind, "aria-labelledby": `title-${id}` },
    h("div", { class: "compare" },
      h("figure", { class: "pane pane-proposed" },
        h("figcaption", { class: "pane-label" }, "Proposed"),
        h("div", { class: "preview" }, preview, h("span", { class: "preview-type" }, type)),
        h("p", { class: "pane-dims" }, formatDimensions(item.width, item.height) || "Size unknown")),
      livePane(item, slot)),
    h("div", { class: "card-body" },
      h("h2", { class: "card-title", id: `title-${id}`, title: item.filename }, item.filename),
      escalationBadge(item.escalation_level),
      firstApprovalBadge(item.first_approver),
      h("p", { class: "card-target" },
        h("span", { class: "card-restaurant" }, item.restaurant_name || item.restaurant),
        h("span", { class: "owner" }, item.restaurant),
        h("span", { class: "card-slot" }, slot)),
      h("dl", { class: "facts" },
        fact("Size", item.bytes !== undefined ? formatBytes(item.bytes) : "unknown"),
        fact("Owner", h("span", { class: "owner" }, item.owner)),
        fact("Waiting", timeSince(item.waiting_since)),
        rules ? rule("Min side", rules.minSide) : null,
        rules ? rule("Aspect", rules.aspect) : null,
        rules ? rule("Max size", rules.maxBytes) : null)),
    h("div", { class: "card-actions" },
      h("button", { type: "button", class: "button approve", onclick: () => approve(id) }, "Approve ", h("kbd", {}, "A")),
      h("button", { type: "button", class: "button decline", onclick: () => openDecline(id) }, "Decline ", h("kbd", {}, "D"))),
    h("div", { class: "decline-panel", role: "group", "aria-label": `Why decline ${item.filename}?`, hidden: true },
      h("p", { class: "decline-title" }, "Why decline it?"),
      h("div", { class: "reasons" },
        DECLINE_REASONS.map((reason, index) =>
          h("button", { type: "button", class: "reason", "data-reason": reason.code, onclick: () => decline(id, reason.code) },
            h("kbd", {}, String(index + 1)), reason.label))),
      h("button", { type: "button", class: "button ghost small", onclick: () => closeDecline(id) }, "Cancel ", h("kbd", {}, "Esc"))),
    h("p", { class: "card-status", role: "status" }),
  );
  element.addEventListener("focusin", () => select(id, { focus: false }));
  element.addEventListener("click", () => select(id, { focus: false }));
  return element;
}

/** Four-eyes review: who gave the first of the two approvals this upload needs. */
function firstApprovalBadge(approver) {
  if (!approver) return null;
  return h("span", { class: "badge badge-pending first-approval", title: "A second moderator must approve" }, `1 of 2 approvals · ${approver}`);
}

/** The escalation flag: level 1 past the first escalation point of the deadline, level 2 near it. */
function escalationBadge(level) {
  if (!level) return null;
  const text = level >= 2 ? "Escalated: deadline near" : "Escalated";
  return h("span", { class: `badge ${level >= 2 ? "badge-bad" : "badge-pending"} escalation`, "data-escalation-level": String(level), title: `Escalation level ${level}` }, text);
}

/** What the slot shows now, which approving would replace, or an empty frame. */
function livePane(item, slot) {
  const live = item.live;
  let picture;
  if (live && live.url) {
    picture = h("img", { src: live.url, alt: `${slot} of ${item.restaurant_name || item.restaurant}, live now`, decoding: "async" });
    picture.addEventListener("error", () => {
      picture.replaceWith(h("p", { class: "preview-missing" }, "The live image did not load. Press R to refresh the queue."));
    });
  } else {
    picture = h("p", { class: "live-empty" }, "No image yet");
  }
  return h("figure", { class: "pane pane-live", "data-live-upload-id": live?.upload_id },
    h("figcaption", { class: "pane-label" }, "Live now"),
    h("div", { class: "live-preview" }, picture),
    h("p", { class: "pane-dims" }, live ? formatDimensions(live.width, live.height) : "Approving fills the empty slot"));
}

function select(id, { focus = true } = {}) {
  if (state.current && state.current !== id) {
    const previous = state.cards.get(state.current);
    if (previous) {
      previous.element.classList.remove("is-current");
      if (previous.declining) closeDecline(state.current, false);
    }
  }
  state.current = id;
  const card = id && state.cards.get(id);
  if (!card) return;
  card.element.classList.add("is-current");
  if (focus && !card.element.contains(document.activeElement)) {
    card.element.focus({ preventScroll: true });
    const motion = matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
    card.element.scrollIntoView({ block: "nearest", behavior: motion });
  }
}

function move(step) {
  const index = state.order.indexOf(state.current);
  const next = state.order[Math.min(Math.max(index + step, 0), state.order.length - 1)];
  if (next) select(next);
}

function openDecline(id) {
  const card = state.cards.get(id);
  if (!card || card.busy) return;
  select(id, { focus: false });
  card.declining = true;
  card.element.classList.add("is-declining");
  card.element.querySelector(".decline-panel").hidden = false;
  card.element.querySelector(".reason").focus();
}

function closeDecline(id, refocus = true) {
  const card = state.cards.get(id);
  if (!card) return;
  card.declining = false;
  card.element.classList.remove("is-declining");
  card.element.querySelector(".decline-panel").hidden = true;
  if (refocus) card.element.focus();
}

// ---- decisions --------------------------------------------------------------------------

const approve = (id) => decide(id, { decision: "approve" });
const decline = (id, reason) => decide(id, { decision: "decline", reason });

async function decide(id, body) {
  const card = state.cards.get(id);
  if (!card || card.busy) return;
  const name = card.item.filename;
  const verb = body.decision === "approve" ? "Approving" : "Declining";
  card.busy = true;
  card.element.classList.add("is-busy");
  card.element.setAttribute("aria-busy", "true");
  for (const button of card.element.querySelectorAll("button")) button.disabled = true;
  card.element.querySelector(".card-status").textContent = `${verb}…`;
  try {
    const { status, data } = await api(session.token(), "POST", `/api/reviews/${id}/decision`, body);
    const reason = DECLINE_REASONS.find((r) => r.code === body.reason);
    const done = body.decision === "approve" ? "Approved" : `Declined (${reason ? reason.label.toLowerCase() : "other"})`;
    const firstOfTwo = data && data.status === "AWAITING_SECOND";
    const detail = firstOfTwo
      ? "This slot needs a second moderator's approval: it now waits under Second approval."
      : status === 202 ? "It will reach the workflow shortly." : "";
    toast(firstOfTwo ? `First approval: ${name}` : `${done}: ${name}`, detail, body.decision);
    leave(id);
  } catch (error) {
    if (session.refuse(error)) return;
    const gone = {
      already_decided: ["warning", "Another moderator decided first.", `“${name}” was already decided, so your decision was not recorded. It has left your queue.`],
      review_timed_out: ["warning", "The review timed out.", `“${name}” waited too long and expired before your decision arrived. It has left your queue.`],
      not_in_review: ["warning", "No longer waiting for review.", `“${name}” is not in review any more. It has left your queue.`],
      not_found: ["warning", "No longer in the queue.", `“${name}” no longer exists. It has left your queue.`],
      same_moderator: ["warning", "A second moderator must approve.", `You gave “${name}” its first approval; a different moderator must give the second. It has left your queue.`],
      conflict_of_interest: ["warning", "Not yours to decide.", `“${name}” is your own upload or your restaurant's, so another moderator must decide it. It has left your queue.`],
    }[error.reason];
    if (gone) {
      banner(gone[0], gone[1], gone[2], error.reason);
      leave(id);
      return;
    }
    banner("error", `Your decision on “${name}” was not recorded.`, `${error.message} Try again.`, error.reason);
    card.busy = false;
    card.element.classList.remove("is-busy");
    card.element.removeAttribute("aria-busy");
    for (const button of card.element.querySelectorAll("button")) button.disabled = false;
    card.element.querySelector(".card-status").textContent = "";
  }
}

/** Takes the card out of the queue (animated unless reduced motion) and selects its neighbour. */
function leave(id) {
  const card = state.cards.get(id);
  if (!card) return;
  const index = state.order.indexOf(id);
  state.order.splice(index, 1);
  state.cards.delete(id);
  if (state.current === id) {
    state.current = state.order[Math.min(index, state.order.length - 1)] || null;
    select(state.current);
  }
  card.element.classList.add("is-leaving");
  const remove = () => card.element.remove();
  card.element.addEventListener("transitionend", remove, { once: true });
  setTimeout(remove, 400);
  updateCount();
}

function banner(tone, title, text, code) {
  const box = $("#banners");
  const element = h("div", { class: `banner banner-${tone}`, role: "alert", "data-reason": code || "" },
    h("div", { class: "banner-text" }, h("strong", {}, title), " ", text),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => element.remove() }, "×"));
  box.prepend(element);
  while (box.children.length > 3) box.lastElementChild.remove();
}

function toast(title, text, tone) {
  const element = h("div", { class: `toast toast-${tone}` }, h("strong", {}, title), text ? h("span", {}, text) : null);
  $("#toasts").append(element);
  announce(`${title}. ${text}`);
  setTimeout(() => element.remove(), 4000);
}

// ---- keyboard ---------------------------------------------------------------------------

const help = $("#help");
function toggleHelp() {
  if (help.open) help.close();
  else help.showModal();
}

document.addEventListener("keydown", (event) => {
  if (!session.token() || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  if (help.open) {
    if (event.key === "?") toggleHelp();
    return; // the dialog closes itself on Esc
  }
  const card = state.current && state.cards.get(state.current);
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    a: () => card && approve(state.current),
    d: () => card && openDecline(state.current),
    r: () => load(),
    "?": toggleHelp,
    Escape: () => card && card.declining && closeDecline(state.current),
  };
  const reasonIndex = Number(key) - 1;
  if (card && card.declining && reasonIndex >= 0 && reasonIndex < DECLINE_REASONS.length) {
    event.preventDefault();
    decline(state.current, DECLINE_REASONS[reasonIndex].code);
  } else if (card && card.declining && (key === "a" || key === "d")) {
    // While a reason is being picked, a stray A must not approve instead.
    event.preventDefault();
  } else if (actions[key]) {
    event.preventDefault();
    actions[key]();
  }
});

/** Shows only one slot kind's uploads ("" for all), and keeps the choice in the address. */
function filterBy(kind) {
  if (kind === state.kind) return;
  state.kind = kind;
  state.generation += 1; // an answer for the old filter must not fill the new one
  state.focusOnLoad = true;
  showFilter();
  const address = new URL(location.href);
  if (kind) address.searchParams.set("kind", kind);
  else address.searchParams.delete("kind");
  history.replaceState(null, "", address.pathname + address.search + address.hash);
  load();
}

/** Shows the first-review queue or the uploads waiting for a second approval. */
function showQueue(queue) {
  if (queue === state.queue) return;
  state.queue = queue;
  state.generation += 1;
  state.focusOnLoad = true;
  showFilter();
  const address = new URL(location.href);
  if (queue === "second") address.searchParams.set("queue", "second");
  else address.searchParams.delete("queue");
  history.replaceState(null, "", address.pathname + address.search + address.hash);
  load();
}

function showFilter() {
  for (const button of document.querySelectorAll("#kind-filter button")) {
    button.setAttribute("aria-pressed", String(button.dataset.kind === state.kind));
  }
  for (const button of document.querySelectorAll("#queue-filter button")) {
    button.setAttribute("aria-pressed", String(button.dataset.queue === state.queue));
  }
  $("#queue-title").textContent = state.queue === "second" ? "Second approval" : "Review queue";
}

for (const button of document.querySelectorAll("#kind-filter button")) {
  button.addEventListener("click", () => filterBy(button.dataset.kind));
}
for (const button of document.querySelectorAll("#queue-filter button")) {
  button.addEventListener("click", () => showQueue(button.dataset.queue));
}
showFilter();
$("#refresh").addEventListener("click", () => load());
$("#new-items").addEventListener("click", () => load());
$("#more").addEventListener("click", loadMore);
$("#help-open").addEventListener("click", toggleHelp);
$("#help-close").addEventListener("click", () => help.close());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && session.token()) load({ background: true });
});
startRelativeClock();
session.start();
