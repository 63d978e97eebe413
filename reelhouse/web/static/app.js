// The dashboard's shared behaviour: forms that call the /v1 API with the session's CSRF token, readable errors,
// and the library's live status. No inline scripts: the Content-Security-Policy allows only files from this site.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// Calls the /v1 API as the signed-in person; resolves to the response's JSON, or throws an Error whose message
// is the envelope's readable message and description.
async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let payload = null;
  try { payload = await response.json(); } catch (_) { /* an empty or non-JSON body */ }
  if (!response.ok) throw new Error(describeError(response.status, payload));
  return payload;
}

function describeError(status, payload) {
  const error = payload && payload.error;
  if (!error) return `The server answered ${status}.`;
  const parts = [error.message, error.description].filter(Boolean);
  for (const field of error.fields || []) parts.push(`${field.field}: ${field.message}`);
  return parts.join(" — ");
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) { node[key] = value; return; }
    if (!(key in node)) node[key] = /^\d+$/.test(keys[i + 1]) ? [] : {};
    node = node[key];
  });
}

function fieldValue(field) {
  const type = field.dataset.type;
  if (type === "bool") return field.type === "checkbox" ? field.checked : field.value === "true";
  if (type === "json") return JSON.parse(field.value || "{}");
  if (type === "list") return field.value.split(",").map((v) => v.trim()).filter(Boolean);
  return field.value;
}

// <form data-api="METHOD /path/{field}"> sends its named fields as JSON (dotted names nest; a field with
// data-path-only only fills the path), then follows data-next, or reloads the page.
async function submitApiForm(form, event) {
  event.preventDefault();
  const error = form.querySelector(".form-error");
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  let [method, path] = form.dataset.api.split(" ");
  const body = {};
  try {
    for (const field of form.querySelectorAll("[name]")) {
      if (field.dataset.pathOnly !== undefined) {
        path = path.replace(`{${field.name}}`, encodeURIComponent(field.value));
        continue;
      }
      if (field.value === "" && field.dataset.keepEmpty === undefined) continue;
      const value = fieldValue(field);
      if (Array.isArray(value) && value.length === 0) continue;
      setPath(body, field.name, value);
    }
  } catch (e) {
    showError(error, `Check the form: ${e.message}`);
    return;
  }
  if (form.dataset.shape === "create-from-url") {
    Object.assign(body, { inputs: [{ type: "video", url: body.url }], accessPolicy: "public" });
    delete body.url;
  }
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const result = await api(method, path, method === "DELETE" ? undefined : body);
    const reveal = form.dataset.reveal && document.getElementById(form.dataset.reveal);
    if (reveal) {
      reveal.textContent = JSON.stringify(result.data, null, 2);
      reveal.hidden = false;
    } else if (form.dataset.next) {
      window.location.assign(form.dataset.next.replace("{id}", result && result.data ? result.data.id : ""));
    } else {
      window.location.reload();
    }
  } catch (e) {
    showError(error, e.message);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function showError(element, message) {
  if (!element) { window.alert(message); return; }
  element.textContent = message;
  element.hidden = false;
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.api) submitApiForm(form, event);
});

// The library: rows that are not Ready or Failed yet are polled until they are, without a reload.
function watchLibrary() {
  const list = document.getElementById("library");
  if (!list) return;
  const tick = async () => {
    const pending = [...list.querySelectorAll('[data-testid="media-row"][data-final="false"]')];
    if (!pending.length) return;
    try {
      const ids = pending.map((row) => row.dataset.mediaId).join(",");
      const response = await fetch(`${list.dataset.live}?ids=${ids}`, { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        for (const row of pending) if (data[row.dataset.mediaId]) updateRow(row, data[row.dataset.mediaId]);
      }
    } finally {
      setTimeout(tick, 1500);
    }
  };
  setTimeout(tick, 1000);
}

function updateRow(row, media) {
  row.dataset.status = media.status;
  row.dataset.final = media.final ? "true" : "false";
  const badge = document.createElement("span");
  badge.className = `badge badge-${media.status.toLowerCase().replace(/ /g, "-")}`;
  badge.textContent = media.status;
  if (media.error) badge.title = media.error;
  row.querySelector('[data-role="status"]').replaceChildren(badge);
  row.querySelector('[data-role="duration"]').textContent = media.duration || "—";
  row.querySelector('[data-role="resolution"]').textContent = media.resolution || "—";
  if (media.thumbnail) {
    const img = document.createElement("img");
    img.src = media.thumbnail;
    img.alt = "";
    row.querySelector(".thumb").replaceChildren(img);
  }
}

// A media page opened while processing reloads itself once the media is Ready or Failed.
function watchProcessing() {
  const box = document.querySelector("[data-reload-when-final]");
  if (!box) return;
  const id = box.dataset.reloadWhenFinal;
  const tick = async () => {
    const response = await fetch(`/ui/status?ids=${id}`, { credentials: "same-origin" });
    if (response.ok && (await response.json())[id]?.final) { window.location.reload(); return; }
    setTimeout(tick, 1500);
  };
  setTimeout(tick, 1500);
}

window.reelhouse = { api, describeError };
watchLibrary();
watchProcessing();
