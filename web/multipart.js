// Sending a large file in parts: `POST /api/uploads` with `method: "multipart"`, then for each
// part its SHA-256 (the storage refuses other bytes), a signed URL for it from the API, and a
// PUT of its bytes; then `POST /api/uploads/{id}/complete`. Parts go one after the other, so
// the progress bar counts bytes across all of them.
//
// A part already sent survives a reload: before the first part goes, the page keeps a small
// record in localStorage (the upload's id, its restaurant and slot, the file's name, size and
// last modification, and when the upload expires; never a token or a URL). When the owner
// picks the same file for the same slot again, the page asks the API which parts arrived and
// sends only the others. The record goes once the upload is complete.

import { api, ApiError } from "/assets/common.js";
import { fileSha256, sendToStorage } from "/assets/upload.js";

/** Parts signed per request to the API: a few, so that their URLs do not expire before use. */
const SIGN_BATCH = 3;
/** A signed URL this close to its expiry is signed again before it is used. */
const URL_MARGIN_MS = 30000;
/** Answers of `GET /api/uploads/{id}/parts` that mean the saved upload cannot go on. */
const GONE = new Set([404, 409, 410]);

/**
 * Whether `file` goes in parts: only when the server names a part size
 * (`multipart_part_bytes` in `GET /api/policy`) and the file is larger than one part.
 */
export function usesMultipart(policies, file) {
  const part = policies?.multipart_part_bytes;
  return Number.isInteger(part) && part > 0 && file.size > part;
}

// ---- the saved records ------------------------------------------------------------------

const storageKey = (user) => `vetted.multipart.${user}`;

/** The saved records of `user` that have not expired; `[]` when storage is off. */
export function savedUploads(user) {
  let records = [];
  try {
    records = JSON.parse(localStorage.getItem(storageKey(user)) || "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(records)) return [];
  const now = Date.now();
  return records.filter((r) => r && typeof r.uploadId === "string" && Date.parse(r.expiresAt) > now);
}

function writeSaved(user, records) {
  try {
    if (records.length) localStorage.setItem(storageKey(user), JSON.stringify(records));
    else localStorage.removeItem(storageKey(user));
  } catch {
    // Not saved: the upload still goes on, it just cannot be resumed after a reload.
  }
}

function remember(user, record) {
  writeSaved(user, [...savedUploads(user).filter((r) => r.uploadId !== record.uploadId), record]);
}

/** Forgets the saved record of `uploadId` (done, gone, or dismissed by the owner). */
export function forgetUpload(user, uploadId) {
  writeSaved(user, savedUploads(user).filter((r) => r.uploadId !== uploadId));
}

/**
 * The saved, unexpired record for `file` going to `target`, if the same file was started there
 * and is not among the uploads in `busy` (being sent from this tab right now).
 */
function findSaved(user, target, file, busy) {
  return savedUploads(user).find(
    (r) =>
      !busy.has(r.uploadId) &&
      r.restaurant === target.restaurant &&
      r.slot === target.slot &&
      r.name === file.name &&
      r.size === file.size &&
      r.lastModified === file.lastModified,
  );
}

// ---- sending ------------------------------------------------------------------------------

/** Bytes `[start, end)` of part `number` (1-based), as the API cuts the file. */
function partRange(number, partSize, size) {
  const start = (number - 1) * partSize;
  return [start, Math.min(number * partSize, size)];
}

/**
 * Asks for a new multipart upload of `file` to `target`; answers the API's grant, checked to
 * be one this page can send.
 */
async function startUpload(token, target, file, contentType) {
  const { data } = await api(token, "POST", "/api/uploads", {
    restaurant: target.restaurant,
    slot: target.slot,
    filename: file.name,
    content_type: contentType,
    size: file.size,
    method: "multipart",
  });
  const parts = data?.multipart;
  if (data?.method !== "multipart" || !Number.isInteger(parts?.part_size) || !Number.isInteger(parts?.part_count)) {
    throw new ApiError(0, "unexpected_method", `The server offered a “${data?.method}” upload where this page asked for one in parts.`);
  }
  return data;
}

/**
 * Which parts of the saved upload `uploadId` arrived: `{partSize, partCount, expiresAt, done}`
 * where `done` is a Set of part numbers listed with the size they must have. Answers null when
 * the upload cannot be resumed (unknown, already completed, or expired); throws otherwise.
 */
async function partsSent(token, uploadId, size) {
  let data;
  try {
    ({ data } = await api(token, "GET", `/api/uploads/${encodeURIComponent(uploadId)}/parts`));
  } catch (error) {
    if (GONE.has(error.status)) return null;
    throw error;
  }
  const partSize = data.part_size;
  const done = new Set();
  for (const part of data.parts || []) {
    const [start, end] = partRange(part.number, partSize, size);
    if (part.number >= 1 && part.number <= data.part_count && part.size === end - start) done.add(part.number);
  }
  return { partSize, partCount: data.part_count, expiresAt: data.expires_at, done };
}

/**
 * Sends `file` to `target` in parts, resuming a saved upload of the same file when there is
 * one. `user` names whose records to use; `busy`, the ids of uploads this tab is sending now
 * (the same file picked twice must not send the same parts twice at once); `on` takes the
 * page's callbacks:
 *
 * - `started({uploadId, partCount, resumed, restarted})` once the upload is known, before any
 *   part goes; `resumed` is the number of parts that arrived before, or null for a new upload,
 *   and `restarted` is true when a saved upload of the file could not go on;
 * - `progress(sent, total, part, partCount)` as bytes go, counting the parts sent before
 *   (`part` is null before the first byte).
 *
 * Answers the upload's id once it is complete. Throws an ApiError; the record then stays, so
 * that picking the file again goes on from the last part that arrived.
 */
export async function sendInParts({ token, user, busy = new Set(), target, file, contentType, on }) {
  if (!globalThis.crypto?.subtle) {
    throw new ApiError(0, "no_webcrypto",
      "This browser cannot compute the checksums a large file is sent with on this page (it needs a secure, https connection).");
  }
  let upload = null;
  let restarted = false;
  const saved = findSaved(user, target, file, busy);
  if (saved) {
    const sent = await partsSent(token(), saved.uploadId, file.size);
    if (sent) upload = { uploadId: saved.uploadId, ...sent };
    else {
      forgetUpload(user, saved.uploadId);
      restarted = true;
    }
  }
  const resumed = upload ? upload.done.size : null;
  if (!upload) {
    const grant = await startUpload(token(), target, file, contentType);
    upload = {
      uploadId: grant.upload_id,
      partSize: grant.multipart.part_size,
      partCount: grant.multipart.part_count,
      expiresAt: grant.expires_at,
      done: new Set(),
    };
  }
  const { uploadId, partSize, partCount, done } = upload;
  remember(user, {
    uploadId,
    restaurant: target.restaurant,
    slot: target.slot,
    name: file.name,
    size: file.size,
    lastModified: file.lastModified,
    expiresAt: upload.expiresAt,
  });
  on.started({ uploadId, partCount, resumed, restarted });

  let sentBefore = 0;
  for (const number of done) {
    const [start, end] = partRange(number, partSize, file.size);
    sentBefore += end - start;
  }
  on.progress(sentBefore, file.size, null, partCount);
  const missing = [];
  for (let number = 1; number <= partCount; number += 1) if (!done.has(number)) missing.push(number);
  for (let i = 0; i < missing.length; i += SIGN_BATCH) {
    const batch = await Promise.all(
      missing.slice(i, i + SIGN_BATCH).map(async (number) => {
        const [start, end] = partRange(number, partSize, file.size);
        const blob = file.slice(start, end);
        return { number, blob, sha256: await fileSha256(blob) };
      }),
    );
    let signed = await signParts(token(), uploadId, batch);
    for (const part of batch) {
      if (Date.now() > signed.expiresAt - URL_MARGIN_MS) signed = await signParts(token(), uploadId, [part]);
      const grant = signed.byNumber.get(part.number);
      if (!grant) throw new ApiError(0, "unexpected_parts", `The server did not sign part ${part.number} of ${file.name}.`);
      await putPart(grant, part.blob, (loaded) => on.progress(sentBefore + loaded, file.size, part.number, partCount));
      sentBefore += part.blob.size;
      on.progress(sentBefore, file.size, part.number, partCount);
    }
  }

  await api(token(), "POST", `/api/uploads/${encodeURIComponent(uploadId)}/complete`, {});
  forgetUpload(user, uploadId);
  return uploadId;
}

/**
 * Signed URLs for `parts` (`{number, sha256}`) of `uploadId`: `{expiresAt, byNumber}`, a Map
 * of part number to `{url, headers, size}`.
 */
async function signParts(token, uploadId, parts) {
  const { data } = await api(token, "POST", `/api/uploads/${encodeURIComponent(uploadId)}/parts`, {
    parts: parts.map(({ number, sha256 }) => ({ number, sha256 })),
  });
  const expiresAt = Date.parse(data.expires_at);
  return {
    expiresAt: Number.isFinite(expiresAt) ? expiresAt : Infinity,
    byNumber: new Map((data.parts || []).map((part) => [part.number, part])),
  };
}

/**
 * PUTs one part's bytes to its signed URL with the headers it was signed with;
 * `onProgress(sent)` in bytes of this part. Rejects with an ApiError carrying the storage's
 * `<Code>`.
 */
function putPart(grant, blob, onProgress) {
  return sendToStorage("PUT", grant.url, grant.headers, blob, (sent) => onProgress(sent));
}
