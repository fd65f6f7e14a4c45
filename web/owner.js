// The owner page (`/`): sign in, pick or drop files, see each refused with its reason or sent
// with a progress bar, and follow your uploads as they move through the checks and the review.
// The list polls every 2 s while any upload (or a file being sent) is not final, then stops.

import {
  $, h, api, announce, statusBadge, formatBytes, formatDimensions, timeAgo, startRelativeClock,
  FINAL_STATUSES, STATUS_TEXT, DECLINE_REASONS, TYPE_NAMES,
} from "/assets/common.js";
import { createSession } from "/assets/session.js";
import { checkFile, fetchPolicy, requestUpload, postFile } from "/assets/upload.js";

const POLL_EVERY_MS = 2000;
const RETRY_AFTER_ERROR_MS = 5000;
const PAGE_SIZE = 20;

const list = $("#upload-list");
const transfersList = $("#transfers");
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
  policy: null, // the promise of the server's upload policy, fetched after sign-in
};

const session = createSession({
  role: "owner",
  onSignIn: () => {
    state.generation += 1;
    state.policy = null;
    // Fetched now so that the first file is checked at once; a failure is reported then.
    uploadPolicy().catch(() => {});
    refresh();
  },
  onSignOut: () => {
    state.generation += 1;
    state.policy = null;
    clearTimeout(state.timer);
    Object.assign(state, { first: [], older: [], next: null, loaded: false });
    state.rows.clear();
    list.replaceChildren();
    transfersList.replaceChildren();
    state.transfers.clear();
  },
});

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
    schedule(POLL_EVERY_MS);
  } catch (error) {
    if (generation !== state.generation || session.refuse(error)) return;
    showListError(`${error.message} Retrying…`);
    schedule(RETRY_AFTER_ERROR_MS);
  }
}

function schedule(delay) {
  clearTimeout(state.timer);
  const sending = [...state.transfers].some((t) => t.active);
  const unsettled = state.first.some((item) => !FINAL_STATUSES.has(item.status));
  const live = sending || unsettled || !$("#list-error").hidden;
  $("#live").hidden = !live;
  if (live) state.timer = setTimeout(refresh, delay);
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
  const signature = JSON.stringify(item) + (state.previews.has(item.upload_id) ? "+preview" : "");
  const known = state.rows.get(item.upload_id);
  if (known && known.signature === signature) return known.element;
  const element = buildRow(item);
  if (known && known.status !== item.status) {
    highlight(element, "is-changed");
    announce(`${item.filename}: ${STATUS_TEXT[item.status]?.label || item.status}. ${detailText(item)}`);
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
  const preview = state.previews.get(item.upload_id);
  const meta = [type, formatDimensions(item.width, item.height), formatBytes(item.bytes ?? item.size)]
    .filter(Boolean)
    .join(" · ");
  return h(
    "li",
    { class: `upload tone-${STATUS_TEXT[item.status]?.tone || "neutral"}`, "data-upload-id": item.upload_id, "data-status": item.status },
    h("div", { class: "thumb", "aria-hidden": "true" },
      preview ? h("img", { src: preview, alt: "" }) : h("span", { class: "thumb-type" }, type)),
    h("div", { class: "upload-main" },
      h("p", { class: "upload-name", title: item.filename }, item.filename),
      h("p", { class: "upload-meta" }, meta, " · ", timeAgo(item.created_at))),
    h("div", { class: "upload-state" },
      statusBadge(item.status),
      stepper(item),
      h("p", { class: "upload-detail" }, detailText(item), item.reason ? h("code", { class: "reason-code" }, item.reason) : null)),
  );
}

function detailText(item) {
  if (item.status === "DECLINED") {
    const reason = DECLINE_REASONS.find((r) => r.code === item.decline_reason);
    return reason ? `A moderator declined it: ${reason.label.toLowerCase()}.` : STATUS_TEXT.DECLINED.detail;
  }
  return item.reason_message || STATUS_TEXT[item.status]?.detail || "";
}

/** Four steps (sent, checked, reviewed, published): how far the upload got, drawn, not read. */
function stepper(item) {
  const reached = { AWAITING_UPLOAD: 0, RECEIVED: 1, IN_REVIEW: 2, DECIDED: 3, APPROVED: 3, PUBLISHED: 4 };
  const stoppedAt = { REJECTED: 1, DECLINED: 2, FAILED: 1, EXPIRED: item.bytes ? 2 : 0 };
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

/** The server's upload policy, fetched once per sign-in; a failed fetch is tried again next time. */
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

async function send(file) {
  const transfer = { file, active: true, uploadId: null, element: null };
  transfer.element = h("li", { class: "transfer", "data-state": "checking" });
  state.transfers.add(transfer);
  transfersList.prepend(transfer.element);
  $("#empty").hidden = true;

  let policy;
  try {
    policy = await uploadPolicy();
  } catch (error) {
    if (session.refuse(error)) return;
    return finish(transfer, "failed", `The upload rules could not be loaded, so nothing was sent: ${error.message}`, error.reason);
  }
  const verdict = checkFile(file, policy);
  if (!verdict.ok) return finish(transfer, "refused", verdict.message, verdict.reason);
  show(transfer, "requesting", "Asking for permission to upload…");
  schedule(0);
  try {
    const grant = await requestUpload(session.token(), file, verdict.contentType);
    transfer.uploadId = grant.upload_id;
    const bar = h("progress", { max: "100", value: "0", "aria-label": `Sending ${file.name}` });
    const percent = h("span", { class: "transfer-percent" }, "0%");
    show(transfer, "uploading", [h("span", {}, "Sending… "), percent], bar);
    await postFile(grant, file, (sent, total) => {
      const value = Math.round((sent / total) * 100);
      bar.value = value;
      percent.textContent = `${value}% · ${formatBytes(sent)} of ${formatBytes(total)}`;
    });
    state.previews.set(grant.upload_id, URL.createObjectURL(file));
    state.transfers.delete(transfer);
    transfer.element.remove();
    announce(`${file.name} sent. Checking it now.`);
    refresh();
  } catch (error) {
    if (session.refuse(error)) return;
    const verb = transfer.uploadId ? "Sending failed" : "The server refused it";
    finish(transfer, "failed", `${verb}: ${error.message}`, error.reason);
  }
}

function show(transfer, stateName, statusContent, extra) {
  const { file } = transfer;
  transfer.element.dataset.state = stateName;
  transfer.element.replaceChildren(
    h("div", { class: "transfer-head" },
      h("span", { class: "transfer-name", title: file.name }, file.name),
      h("span", { class: "transfer-size" }, formatBytes(file.size))),
    h("p", { class: "transfer-status" }, statusContent),
    ...(extra ? [extra] : []),
  );
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
      },
    }, "×"),
  );
  announce(`${transfer.file.name} was not uploaded. ${message}`);
}

function sendAll(files) {
  for (const file of files) send(file);
}

const input = $("#file-input");
input.addEventListener("change", () => {
  sendAll([...input.files]);
  input.value = ""; // picking the same file again must fire "change" again
});

const zone = $("#dropzone");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("is-dragging");
});
zone.addEventListener("dragleave", () => zone.classList.remove("is-dragging"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("is-dragging");
  if (session.token()) sendAll([...event.dataTransfer.files]);
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
