// Shared by the owner page and the moderator console: API calls with their `{error, reason}`
// errors, DOM building (text only, never HTML strings, so a filename can never become markup),
// and formatting, of slots and their policies too.

/** Statuses after which an upload never changes again: the owner page stops polling. */
export const FINAL_STATUSES = new Set(["PUBLISHED", "REJECTED", "DECLINED", "EXPIRED", "FAILED", "WITHDRAWN"]);

/** Statuses from which the member who asked can still take the request back. */
export const WITHDRAWABLE_STATUSES = new Set(["AWAITING_UPLOAD", "RECEIVED", "IN_REVIEW", "AWAITING_SECOND"]);

/** How each status reads on a badge (`tone` picks its colour) and what it means for the owner. */
export const STATUS_TEXT = {
  AWAITING_UPLOAD: { label: "Waiting for file", tone: "neutral", detail: "Permission granted; the file has not arrived yet." },
  RECEIVED: { label: "Checking", tone: "info", detail: "Received. Checking that it is a real, safe image…" },
  IN_REVIEW: { label: "In review", tone: "pending", detail: "Passed the checks. Waiting for a moderator." },
  AWAITING_SECOND: { label: "Awaiting second", tone: "pending", detail: "One moderator approved it; a second must approve too." },
  DECIDED: { label: "Decided", tone: "info", detail: "A moderator has decided; finishing up…" },
  APPROVED: { label: "Approved", tone: "good", detail: "Approved. Publishing a clean copy…" },
  PUBLISHED: { label: "Published", tone: "good", detail: "Approved and published." },
  REJECTED: { label: "Rejected", tone: "bad", detail: "The file did not pass the checks." },
  DECLINED: { label: "Declined", tone: "bad", detail: "A moderator declined this image." },
  EXPIRED: { label: "Expired", tone: "muted", detail: "This upload expired." },
  FAILED: { label: "Failed", tone: "bad", detail: "Processing failed on our side; an operator can retry it." },
  WITHDRAWN: { label: "Withdrawn", tone: "muted", detail: "You withdrew this request; the slot did not change." },
};

/** The moderators' decline reasons, in the order of their keyboard shortcuts 1 to 5. */
export const DECLINE_REASONS = [
  { code: "inappropriate", label: "Inappropriate" },
  { code: "low_quality", label: "Low quality" },
  { code: "not_relevant", label: "Not relevant" },
  { code: "copyright", label: "Copyright" },
  { code: "other", label: "Other" },
];

export const TYPE_NAMES = { "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP" };

/** An error answer of the API (`{error, reason}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** When a 429 says to come back, from its Retry-After (seconds, or an HTTP date). */
function retryAfter(header) {
  if (!header) return null;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Date.now() + Math.max(0, seconds) * 1000 : null;
}

/**
 * Sends one request to the API, with the bearer token when there is one; answers
 * `{status, data}` (data is the parsed JSON, null for an empty body) or throws an ApiError,
 * whose `retryAt` says when a 429 may be tried again.
 */
export async function request(method, path, { token, body, cache } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (cache) init.cache = cache;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection, then try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const reason = (data && data.reason) || `http_${response.status}`;
    const message = (data && data.error) || `The server answered ${response.status} ${response.statusText}.`;
    const error = new ApiError(response.status, reason, message);
    if (response.status === 429) error.retryAt = retryAfter(response.headers.get("Retry-After"));
    throw error;
  }
  return { status: response.status, data };
}

/** Calls the API with the bearer token; answers `{status, data}` or throws an ApiError. */
export function api(token, method, path, body) {
  return request(method, path, { token, body });
}

/** Builds an element: `h("p", {class: "x", onclick: f}, "text", child)`. Strings become text. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A status badge: coloured by tone, its text the human label; `data-status` keeps the code. */
export function statusBadge(status) {
  const text = STATUS_TEXT[status] || { label: status, tone: "neutral" };
  return h("span", { class: `badge badge-${text.tone}`, "data-status": status }, text.label);
}

/** Sizes in binary units, as the policy's limits are set (20 MiB reads "20 MB"). */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value >= 100 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatDimensions(width, height) {
  return width && height ? `${width} × ${height}` : "";
}

/** A slot as people read it: "Logo", "Cover", "Gallery 3". */
export function slotLabel(slot) {
  const gallery = /^gallery-(\d+)$/.exec(slot || "");
  if (gallery) return `Gallery ${gallery[1]}`;
  return slot ? slot[0].toUpperCase() + slot.slice(1) : "";
}

/** The kind of a slot, whose policy applies to it: `gallery-3` is a `gallery`. */
export function slotKind(slot) {
  return /^gallery-\d+$/.test(slot || "") ? "gallery" : slot;
}

/** A kind's aspect range in the server's `W:1` spelling: "1:1 to 4:1", "any". */
export function aspectRange(policy) {
  const { min_aspect: min, max_aspect: max } = policy;
  if (min && max) return `${min} to ${max}`;
  if (min) return `${min} or wider`;
  if (max) return `up to ${max}`;
  return "any";
}

/** A kind's rules in a few words, as both pages show them beside an image. */
export function policySummary(policy) {
  return {
    minSide: `${policy.min_side} px`,
    aspect: aspectRange(policy),
    maxBytes: formatBytes(policy.max_bytes),
  };
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", "yesterday", or a date. */
export function relativeTime(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return new Date(then).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

/** How long since `iso`, as a duration: "8 s", "12 min", "3 h 5 min", "2 days". */
export function age(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return days === 1 ? "1 day" : `${days} days`;
}

const FORMATS = { ago: relativeTime, age };

/** A `<time>` saying how long ago `iso` was ("5 min ago"); `startClock` keeps it fresh. */
export function timeAgo(iso) {
  return clockTime(iso, "ago");
}

/** A `<time>` saying how long it has been since `iso` ("5 min"), kept fresh likewise. */
export function timeSince(iso) {
  return clockTime(iso, "age");
}

function clockTime(iso, format) {
  const full = new Date(Date.parse(iso)).toLocaleString();
  return h("time", { datetime: iso, title: full, "data-format": format }, FORMATS[format](iso));
}

/** Refreshes every `time[data-format]` on the page every 5 s. */
export function startRelativeClock() {
  setInterval(() => {
    const now = Date.now();
    for (const element of document.querySelectorAll("time[data-format]")) {
      const text = FORMATS[element.dataset.format](element.getAttribute("datetime"), now);
      if (element.textContent !== text) element.textContent = text;
    }
  }, 5000);
}

/** The claims of a JWT, for display only (the server verifies it); null if unreadable. */
export function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(payload), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** Says in the visually hidden live region what just changed, for screen readers. */
export function announce(text) {
  const region = $("#announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick makes screen readers read a repeated message again.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}
