// Sending one file from the owner page: the policy checks the page makes before asking (the
// API makes them again, and the intake gate then reads the file itself), the request for a
// presigned POST, and the multipart POST straight to the bucket with progress events.

import { api, ApiError, formatBytes, TYPE_NAMES } from "/assets/common.js";

/**
 * The file extensions of each image type the page knows. Which types are allowed, and the
 * size limits, are the server's policy (`GET /api/policy`, see `fetchPolicy`), never set here.
 */
const EXTENSIONS = {
  "image/jpeg": [".jpg", ".jpeg"],
  "image/png": [".png"],
  "image/webp": [".webp"],
};

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

/**
 * The policy the server enforces, from `GET /api/policy`: `{allowed_types, min_bytes,
 * max_bytes, min_side, max_side, max_pixels}`. Throws an ApiError, also when the answer is not
 * a policy this page can use.
 */
export async function fetchPolicy(token) {
  const { data } = await api(token, "GET", "/api/policy");
  const usable =
    data &&
    Array.isArray(data.allowed_types) &&
    data.allowed_types.length > 0 &&
    Number.isFinite(data.min_bytes) &&
    Number.isFinite(data.max_bytes);
  if (!usable) {
    throw new ApiError(0, "unexpected_policy", "The server sent upload rules this page does not understand.");
  }
  return data;
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

/** "A, B and C" */
function listed(items) {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}` : items.join("");
}

/**
 * What the page knows before sending anything, checked against `policy` (from `fetchPolicy`):
 * the type from the file's MIME type and its extension (they must agree), and the size.
 * Answers `{ok: true, contentType}` or `{ok: false, reason, message}` with the API's reason
 * codes. Dimensions are left to the server, which reads them from the file's header.
 */
export function checkFile(file, policy) {
  const allowed = policy.allowed_types.filter((type) => EXTENSIONS[type]);
  const names = listed(allowed.map((type) => TYPE_NAMES[type] || type));
  const extensions = listed(allowed.flatMap((type) => EXTENSIONS[type]));
  const extension = extensionOf(file.name);
  const mime = (file.type || "").toLowerCase();
  const typeOfExtension = Object.keys(EXTENSIONS).find((type) => EXTENSIONS[type].includes(extension));
  const refuse = (reason, message) => ({ ok: false, reason, message });
  if (mime === "image/svg+xml" || extension === ".svg" || extension === ".svgz") {
    return refuse("type_not_allowed", SVG_REFUSAL);
  }
  if (mime && !allowed.includes(mime)) {
    const what = KNOWN_TYPES[mime] || (TYPE_NAMES[mime] ? `a ${TYPE_NAMES[mime]} image` : `a file of type ${mime}`);
    return refuse("type_not_allowed", `This is ${what}. Only ${names} images are accepted.`);
  }
  if (!typeOfExtension || !allowed.includes(typeOfExtension)) {
    return refuse(
      "type_not_allowed",
      extension
        ? `Files ending in “${extension}” are not accepted. Only ${extensions} images are.`
        : `The file has no extension, so its type is unknown. Only ${extensions} images are accepted.`,
    );
  }
  if (mime && mime !== typeOfExtension) {
    return refuse(
      "type_mismatch",
      `The name says ${TYPE_NAMES[typeOfExtension]} but the file is reported as ${TYPE_NAMES[mime]}. Rename it to match its type.`,
    );
  }
  if (file.size === 0) return refuse("empty", "The file is empty.");
  if (file.size < policy.min_bytes) {
    return refuse("too_small", `The file is ${formatBytes(file.size)}; the smallest accepted is ${formatBytes(policy.min_bytes)}.`);
  }
  if (file.size > policy.max_bytes) {
    return refuse("too_large", `The file is ${formatBytes(file.size)}; the limit is ${formatBytes(policy.max_bytes)}.`);
  }
  return { ok: true, contentType: typeOfExtension };
}

/** Asks the API for a presigned POST for `file`; throws an ApiError with the API's reason. */
export async function requestUpload(token, file, contentType) {
  const { data } = await api(token, "POST", "/api/uploads", {
    filename: file.name,
    content_type: contentType,
    size: file.size,
    method: "post",
  });
  if (data.method !== "post" || !Array.isArray(data.fields)) {
    throw new ApiError(0, "unexpected_method", `The server offered a “${data.method}” upload; this page sends forms only.`);
  }
  return data;
}

/**
 * Sends the form: every field in the order given, then the file, last, as `file` (S3 ignores
 * fields after the file). XMLHttpRequest because fetch reports no upload progress.
 * `onProgress(sent, total)`; resolves on 2xx, rejects with an ApiError carrying S3's `<Code>`.
 */
export function postFile(grant, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const field of grant.fields) form.append(field.name, field.value);
    form.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", grant.url);
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
    request.send(form);
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
  };
  return new ApiError(status, code, hints[code] ? `${hints[code]} (${message})` : message);
}
