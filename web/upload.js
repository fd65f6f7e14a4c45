// Sending one file from the owner page: the checks the page makes against the target slot's
// policy before asking (the API makes them again, and the intake gate then reads the file
// itself), the request for a presigned POST, and the multipart POST straight to the bucket
// with progress events; a file larger than one part goes in parts instead (multipart.js).
// Which types and extensions are allowed, and the limits, are the server's policy
// (`GET /api/policy`, see `fetchPolicy`), never set here.

import { api, ApiError, formatBytes, formatDimensions, TYPE_NAMES } from "/assets/common.js";

const KNOWN_TYPES = {
  "image/svg+xml": "an SVG drawing",
  "image/gif": "a GIF image",
  "image/heic": "a HEIC photo",
  "image/heif": "a HEIF photo",
  "image/avif": "an AVIF image",
  "image/bmp": "a BMP image",
  "image/tiff": "a TIFF image",
  "application/pdf": "a PDF document",
  "text/html": "a web page",
};

const SVG_REFUSAL =
  "SVG images are never accepted: an SVG can carry scripts that run when it is opened. " +
  "Export it as a PNG, JPEG or WebP and upload that instead.";

export const SLOT_KINDS = ["logo", "cover", "gallery"];

function usablePolicy(policy) {
  return (
    policy &&
    Array.isArray(policy.allowed_types) &&
    policy.allowed_types.length > 0 &&
    policy.allowed_extensions &&
    policy.allowed_types.every((type) => Array.isArray(policy.allowed_extensions[type])) &&
    ["min_bytes", "max_bytes", "min_side", "max_side", "max_pixels"].every((name) => Number.isFinite(policy[name]))
  );
}

/**
 * The policies the server enforces, from `GET /api/policy`: `{logo, cover, gallery,
 * gallery_positions, multipart_part_bytes?}`, each kind `{allowed_types, allowed_extensions,
 * min_bytes, max_bytes, min_side, max_side, max_pixels, min_aspect?, max_aspect?,
 * min_aspect_ratio?, max_aspect_ratio?}`; a file larger than `multipart_part_bytes` goes in
 * parts. Throws an ApiError, also when the answer is not something this page can use.
 */
export async function fetchPolicy(token) {
  const { data } = await api(token, "GET", "/api/policy");
  const usable = data && SLOT_KINDS.every((kind) => usablePolicy(data[kind])) && Number.isInteger(data.gallery_positions);
  if (!usable) {
    throw new ApiError(0, "unexpected_policy", "The server sent upload rules this page does not understand.");
  }
  return data;
}

/**
 * The rule a refusal broke, in the words the server uses (`explain_refusal` in
 * crates/core/src/policy/slots.rs), so that the page and the uploads list say the same thing.
 */
export function explainRefusal(kind, reason, policy) {
  const { min_aspect: min, max_aspect: max } = policy;
  switch (reason) {
    case "too_small_dimensions":
      return `${kind} must be at least ${policy.min_side}×${policy.min_side} pixels`;
    case "too_large_dimensions":
      return `${kind} must be at most ${policy.max_side}×${policy.max_side} pixels and ${policy.max_pixels} pixels in all`;
    case "wrong_aspect_ratio":
      if (min && max) return `${kind} must have an aspect ratio between ${min} and ${max}`;
      if (min) return `${kind} must be at least ${min} wide`;
      if (max) return `${kind} must be at most ${max} wide`;
      return `${kind} has no aspect ratio rule`;
    case "too_large":
      return `${kind} must be at most ${policy.max_bytes} bytes`;
    case "too_small":
      return `${kind} must be at least ${policy.min_bytes} bytes`;
    case "type_not_allowed":
      return `${kind} must be one of ${policy.allowed_types.join(", ")}`;
    default:
      return "";
  }
}

/**
 * What follows the last dot of a filename, lowercase; null when there is no dot, the name
 * ends in one, or its only dot starts it. As the server reads it (`FileName::extension`).
 */
function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : null;
}

/** "a", "a or b", "a, b or c", as the server lists extensions. */
function eitherOf(items) {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}` : items.join("");
}

/**
 * Why a file named `name` may not be sent as `type`, in the words of the API's
 * `extension_not_allowed` (`explain_extension_refusal` in crates/core/src/policy/extension.rs):
 * "the filename ends in .exe: logo takes .jpg, .jpeg, .png or .webp files, and the name of an
 * image/png file must end in .png". Without a type (no extension the policy knows, and none
 * from the browser), the last clause is left out: the page would have nothing to declare.
 */
export function extensionRefusal(kind, policy, name, type) {
  const extension = extensionOf(name);
  const detail = extension === null ? "the filename has no extension" : `the filename ends in .${extension}`;
  const dotted = (extensions) => eitherOf(extensions.map((extension) => `.${extension}`));
  const all = policy.allowed_types.flatMap((allowed) => policy.allowed_extensions[allowed]);
  const rule = `${detail}: ${kind} takes ${dotted(all)} files`;
  return type ? `${rule}, and the name of an ${type} file must end in ${dotted(policy.allowed_extensions[type])}` : rule;
}

/** A message of the server's, which starts in lower case, as a sentence. */
const sentence = (message) => `${message.charAt(0).toUpperCase()}${message.slice(1)}.`;

/**
 * What the page knows before reading the image, checked against the target slot kind's
 * `policy`, as `POST /api/uploads` checks it: the type (the browser's MIME type, or else the
 * one the extension names), the extension (one of that type's in `allowed_extensions`), and
 * the size. Answers `{ok: true, contentType}` or `{ok: false, reason, message}` with the
 * API's reason codes; a message ends with the rule broken, as the server words it.
 */
export function checkFile(file, policy, kind) {
  const allowed = policy.allowed_types;
  const extension = extensionOf(file.name);
  const mime = (file.type || "").toLowerCase();
  const typeOfExtension = allowed.find((type) => policy.allowed_extensions[type].includes(extension));
  const refuse = (reason, message) => ({ ok: false, reason, message });
  const rule = (reason) => explainRefusal(kind, reason, policy);
  if (mime === "image/svg+xml" || extension === "svg" || extension === "svgz") {
    return refuse("type_not_allowed", SVG_REFUSAL);
  }
  if (mime && !allowed.includes(mime)) {
    const what = KNOWN_TYPES[mime] || (TYPE_NAMES[mime] ? `a ${TYPE_NAMES[mime]} image` : `a file of type ${mime}`);
    return refuse("type_not_allowed", `This is ${what}; ${rule("type_not_allowed")}.`);
  }
  // The type the page would declare: what the browser reports, else what the name says.
  const declared = mime || typeOfExtension;
  if (!declared || !policy.allowed_extensions[declared].includes(extension)) {
    return refuse("extension_not_allowed", sentence(extensionRefusal(kind, policy, file.name, declared)));
  }
  if (file.size === 0) return refuse("empty", "The file is empty.");
  if (file.size < policy.min_bytes) {
    return refuse("too_small", `The file is ${formatBytes(file.size)}; ${rule("too_small")}.`);
  }
  if (file.size > policy.max_bytes) {
    return refuse("too_large", `The file is ${formatBytes(file.size)}; ${rule("too_large")} (${formatBytes(policy.max_bytes)}).`);
  }
  return { ok: true, contentType: declared };
}

/**
 * The image's width and height as the browser decodes them, or null when it cannot (a
 * damaged file, say: the gate then refuses it with the exact reason). An Image element reads
 * the header without painting the pixels. The browser turns a photo by its EXIF orientation
 * where the gate reads the stored sides; for a square rule that is the same thing.
 */
export function readDimensions(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    const done = (value) => {
      URL.revokeObjectURL(url);
      resolve(value);
    };
    image.addEventListener("load", () =>
      done(image.naturalWidth && image.naturalHeight ? { width: image.naturalWidth, height: image.naturalHeight } : null),
    );
    image.addEventListener("error", () => done(null));
    image.src = url;
  });
}

/** Width / height in thousandths, as the server compares them (crates/core/src/policy/aspect.rs). */
const thousandths = (ratio) => Math.round(ratio * 1000);

/**
 * The gate's dimension checks, in its order: too large (a side or the pixel count), too
 * small (either side), then the aspect range, compared in integers as the server does.
 * Answers `{ok: true}` or `{ok: false, reason, message}`.
 */
export function checkDimensions({ width, height }, policy, kind) {
  const refuse = (reason) => ({
    ok: false,
    reason,
    message: `This image is ${formatDimensions(width, height)} pixels; ${explainRefusal(kind, reason, policy)}.`,
  });
  if (width > policy.max_side || height > policy.max_side || width * height > policy.max_pixels) {
    return refuse("too_large_dimensions");
  }
  if (width < policy.min_side || height < policy.min_side) return refuse("too_small_dimensions");
  const min = policy.min_aspect_ratio;
  const max = policy.max_aspect_ratio;
  const wideEnough = !Number.isFinite(min) || thousandths(min) * height <= width * 1000;
  const narrowEnough = !Number.isFinite(max) || width * 1000 <= thousandths(max) * height;
  if (!wideEnough || !narrowEnough) return refuse("wrong_aspect_ratio");
  return { ok: true };
}

/**
 * The file's SHA-256 as the standard base64 of its 32 bytes, the form S3's
 * `x-amz-checksum-sha256` takes. `null` where WebCrypto is missing (a page served over plain
 * http from another host than localhost is not a secure context): the upload then goes
 * without a pinned checksum, as before.
 */
export async function fileSha256(file) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Asks the API for a presigned POST for `file`, to go to `target` (`{restaurant, slot}`),
 * pinned to the file's SHA-256 so the storage refuses any other bytes; throws an ApiError
 * with the API's reason.
 */
export async function requestUpload(token, target, file, contentType) {
  const sha256 = await fileSha256(file);
  const { data } = await api(token, "POST", "/api/uploads", {
    restaurant: target.restaurant,
    slot: target.slot,
    filename: file.name,
    content_type: contentType,
    size: file.size,
    method: "post",
    ...(sha256 ? { sha256 } : {}),
  });
  if (data.method !== "post" || !Array.isArray(data.fields)) {
    throw new ApiError(0, "unexpected_method", `The server offered a “${data.method}” upload; this page sends forms only.`);
  }
  return data;
}

/**
 * Sends the form: every field in the order given, then the file, last, as `file` (S3 ignores
 * fields after the file). `onProgress(sent, total)`; resolves on 2xx, rejects with an ApiError
 * carrying S3's `<Code>`.
 */
export function postFile(grant, file, onProgress) {
  const form = new FormData();
  for (const field of grant.fields) form.append(field.name, field.value);
  form.append("file", file, file.name);
  return sendToStorage("POST", grant.url, {}, form, onProgress);
}

/** Headers the browser sets itself from the body and the URL, and refuses to be given. */
const BROWSER_SET = new Set(["content-length", "host"]);

/**
 * Sends `body` to a presigned storage `url` with `method` and the signed `headers` (those the
 * browser sets itself, `content-length` and `host`, it computes to the same values).
 * XMLHttpRequest because fetch reports no upload progress: `onProgress(sent, total)` in bytes.
 * Resolves on 2xx; rejects with an ApiError carrying the storage's `<Code>`.
 */
export function sendToStorage(method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!BROWSER_SET.has(name.toLowerCase())) request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(storageError(request.status, request.responseText));
    });
    request.addEventListener("error", () =>
      reject(new ApiError(0, "network", "The connection to the storage was lost while sending. Try again.")),
    );
    request.addEventListener("timeout", () =>
      reject(new ApiError(0, "timeout", "Sending took too long and was stopped. Try again.")),
    );
    request.send(body);
  });
}

/** The error of an S3-style XML answer (`<Error><Code/><Message/></Error>`). */
function storageError(status, body) {
  let code = `http_${status}`;
  let message = `The storage refused the file (HTTP ${status}).`;
  try {
    const xml = new DOMParser().parseFromString(body, "application/xml");
    const found = (name) => xml.getElementsByTagName(name)[0]?.textContent?.trim();
    code = found("Code") || code;
    message = found("Message") || message;
  } catch {
    // Not XML: keep the status line.
  }
  const hints = {
    AccessDenied: "The permission to upload was refused or has expired. Try again.",
    EntityTooLarge: "The file is larger than the size that was declared for it.",
    EntityTooSmall: "The file is smaller than allowed.",
    BadDigest: "The file changed while it was being sent. Choose it again and retry.",
  };
  return new ApiError(status, code, hints[code] ? `${hints[code]} (${message})` : message);
}
