// The upload page: each file goes up through the resumable protocol (spec section 14) in chunks, with its own
// progress, speed and time left. The signed URL is remembered per file, so after a dropped connection or a
// reload, picking the same file again resumes from the offset the server has committed.
"use strict";

// A page may set a smaller chunk before this script runs (the browser tests do, to interrupt an upload midway).
const CHUNK = window.reelhouseUploadChunkBytes || 8 * 1024 * 1024;
const RETRIES = 5;
const list = document.getElementById("uploads");
const input = document.getElementById("files");
const zone = document.getElementById("dropzone");

const fileKey = (file) => `reelhouse-upload:${file.name}:${file.size}:${file.lastModified}`;
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function put(url, headers, body, onProgress, upload) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("The connection dropped."));
    xhr.onabort = () => reject(new Error("cancelled"));
    xhr.send(body);
  });
}

// The server's committed offset (a `bytes */TOTAL` status query), or "done", or null when the URL is unusable.
async function committed(upload) {
  const xhr = await put(upload.url, { "Content-Range": `bytes */${upload.file.size}` }, null, null, upload);
  if (xhr.status === 200) return "done";
  if (xhr.status !== 308) return null;
  const range = xhr.getResponseHeader("Range");
  return range ? Number(range.split("-")[1]) + 1 : 0;
}

async function begin(upload) {
  const saved = JSON.parse(localStorage.getItem(fileKey(upload.file)) || "null");
  if (saved) {
    Object.assign(upload, saved);
    const offset = await committed(upload).catch(() => null);
    if (offset !== null) return offset;
  }
  const title = upload.file.name.replace(/\.[^.]+$/, "").slice(0, 255);
  const created = await window.reelhouse.api("POST", "/v1/on-demand/upload", {
    corsOrigin: window.location.origin, pushMediaSettings: { accessPolicy: "public", title },
  });
  upload.url = created.data.url;
  upload.uploadId = created.data.uploadId;
  localStorage.setItem(fileKey(upload.file), JSON.stringify({ url: upload.url, uploadId: upload.uploadId }));
  return 0;
}

async function send(upload) {
  let offset = await begin(upload);
  const started = performance.now();
  const startOffset = offset === "done" ? upload.file.size : offset;
  let failures = 0;
  while (offset !== "done") {
    const end = Math.min(offset + CHUNK, upload.file.size);
    const base = offset;
    let xhr;
    try {
      xhr = await put(upload.url, { "Content-Range": `bytes ${base}-${end - 1}/${upload.file.size}` },
        upload.file.slice(base, end), (loaded) => show(upload, base + loaded, started, startOffset), upload);
    } catch (e) {
      if (upload.cancelled || ++failures > RETRIES) throw e;
      show(upload, base, started, startOffset, "Connection lost, resuming…");
      await sleep(1000 * failures);
      offset = (await committed(upload).catch(() => base)) ?? base;
      continue;
    }
    if (xhr.status === 200) {
      upload.mediaId = JSON.parse(xhr.responseText).data.mediaId;
      offset = "done";
    } else if (xhr.status === 308) {
      const range = xhr.getResponseHeader("Range");
      offset = range ? Number(range.split("-")[1]) + 1 : 0;
      failures = 0;
    } else {
      let payload = null;
      try { payload = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      throw new Error(window.reelhouse.describeError(xhr.status, payload));
    }
  }
  localStorage.removeItem(fileKey(upload.file));
}

function show(upload, sent, started, startOffset, note) {
  const { bar, text } = upload.row;
  bar.value = sent;
  const seconds = (performance.now() - started) / 1000;
  const speed = seconds > 0 ? (sent - startOffset) / seconds : 0;
  const left = speed > 0 ? Math.ceil((upload.file.size - sent) / speed) : null;
  text.textContent = note || `${mb(sent)} of ${mb(upload.file.size)}` +
    (speed > 0 ? ` · ${mb(speed)}/s` : "") + (left !== null ? ` · ${left} s left` : "");
}

function addRow(upload) {
  const li = document.createElement("li");
  li.className = "upload";
  li.dataset.testid = "upload-row";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = upload.file.name;
  const bar = document.createElement("progress");
  bar.max = upload.file.size || 1;
  bar.value = 0;
  bar.setAttribute("aria-label", `Progress of ${upload.file.name}`);
  const text = document.createElement("span");
  text.className = "progress-text";
  text.textContent = "Starting…";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", () => cancelUpload(upload));
  li.append(name, bar, text, cancel);
  list.prepend(li);
  upload.row = { li, bar, text, cancel };
}

async function cancelUpload(upload) {
  upload.cancelled = true;
  if (upload.xhr) upload.xhr.abort();
  localStorage.removeItem(fileKey(upload.file));
  if (upload.uploadId) {
    await window.reelhouse.api("PUT", `/v1/on-demand/upload/${upload.uploadId}/cancel`).catch(() => {});
  }
  upload.row.text.textContent = "Cancelled";
  upload.row.cancel.remove();
}

async function start(file) {
  const upload = { file };
  addRow(upload);
  try {
    await send(upload);
    upload.row.bar.value = upload.row.bar.max;
    upload.row.li.dataset.state = "done";
    const link = document.createElement("a");
    link.href = `/media/${upload.mediaId}`;
    link.textContent = "Uploaded — open";
    upload.row.text.replaceChildren(link);
    upload.row.cancel.remove();
  } catch (e) {
    if (upload.cancelled) return;
    upload.row.li.dataset.state = "failed";
    upload.row.text.textContent = `Failed: ${e.message}`;
  }
}

input.addEventListener("change", () => { [...input.files].forEach(start); input.value = ""; });
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  [...e.dataTransfer.files].forEach(start);
});
