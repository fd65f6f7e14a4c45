// The owner page's live status: `GET /api/events/stream` (server-sent events) read with
// `fetch()` and a body reader. Not `EventSource`: it cannot send the Authorization header, and
// the token must never go into a URL (URLs end up in logs). So this module parses
// `text/event-stream` itself and reconnects by itself, with backoff and `Last-Event-ID`.
//
// `vetted serve` has the stream; on AWS the path answers 404 and the page polls instead
// (`onUnavailable`). While the stream is down between attempts, the page polls too.

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;
// A stream that has not said `ready` by then is treated as down (a proxy that buffers it).
const OPEN_TIMEOUT_MS = 10000;

/**
 * Starts following the stream. Callbacks: `onOpen()` when it is up (the page reloads its list
 * once, for what happened before), `onChange(data)` for each status change, `onReset()` when
 * the server could not replay what was missed, `onDown()` when it dropped (a reconnect is
 * scheduled), `onUnavailable()` when this server has no stream (404; no reconnect), and
 * `onRefused(status, reason)` for 401/403 (no reconnect). Answers `{ stop() }`.
 */
export function followStream({ token, onOpen, onChange, onReset, onDown, onUnavailable, onRefused }) {
  let lastId = null;
  let retryMs = FIRST_RETRY_MS;
  let controller = null;
  let timer = null;
  let stopped = false;

  function retryLater(delayMs) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(connect, delayMs);
  }

  async function connect() {
    if (stopped) return;
    const current = token();
    if (!current) return;
    controller = new AbortController();
    const mine = controller;
    const headers = { Authorization: `Bearer ${current}`, Accept: "text/event-stream" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let opened = false;
    const openTimer = setTimeout(() => { if (!opened) mine.abort(); }, OPEN_TIMEOUT_MS);
    try {
      const response = await fetch("/api/events/stream", { headers, cache: "no-store", signal: mine.signal });
      if (response.status === 404) {
        clearTimeout(openTimer);
        onUnavailable();
        return;
      }
      if (response.status === 401 || response.status === 403) {
        clearTimeout(openTimer);
        const body = await response.json().catch(() => ({}));
        onRefused(response.status, body.reason || `http_${response.status}`, body.error || "");
        return;
      }
      if (response.status === 429) {
        const after = Number(response.headers.get("Retry-After")) || 10;
        throw Object.assign(new Error("too many streams"), { retryMs: after * 1000 });
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (!frame) continue; // a comment: `: ping`
          if (frame.id !== null) lastId = frame.id;
          if (!opened) {
            opened = true;
            clearTimeout(openTimer);
            retryMs = FIRST_RETRY_MS;
            onOpen();
          }
          if (frame.event === "reset") onReset();
          else if (frame.event === "change") onChange(frame.data);
        }
      }
      throw new Error("the stream ended");
    } catch (error) {
      clearTimeout(openTimer);
      if (stopped || (mine.signal.aborted && mine !== controller)) return;
      onDown();
      const delay = error.retryMs || retryMs;
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      retryLater(delay);
    }
  }

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}

/** One `text/event-stream` block: `{id, event, data}`, or null for a comment-only block. */
function parseFrame(block) {
  let id = null;
  let event = "message";
  const data = [];
  let any = false;
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    any = true;
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!any) return null;
  let parsed = null;
  try {
    parsed = data.length ? JSON.parse(data.join("\n")) : null;
  } catch {
    parsed = null;
  }
  return { id, event, data: parsed };
}
