// The developers page: a webhook endpoint's delivery log, each delivery with its attempts, and redelivery.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-deliveries]");
  if (!button) return;
  const id = button.dataset.deliveries;
  const box = document.querySelector(`[data-log="${id}"]`);
  try {
    const result = await window.reelhouse.api("GET", `/v1/webhooks/${id}/deliveries?limit=20`);
    box.replaceChildren();
    if (!result.data.length) box.textContent = "No deliveries yet.";
    for (const delivery of result.data) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${delivery.type || delivery.eventType || "event"} · ${delivery.status} · ${delivery.id}`;
      const pre = document.createElement("pre");
      pre.className = "json";
      pre.textContent = JSON.stringify(delivery, null, 2);
      const form = document.createElement("form");
      form.dataset.api = `POST /v1/webhooks/${id}/deliveries/${delivery.id}/redeliver`;
      const again = document.createElement("button");
      again.type = "submit";
      again.textContent = "Redeliver";
      const error = document.createElement("p");
      error.className = "form-error";
      error.hidden = true;
      form.append(again, error);
      details.append(summary, pre, form);
      box.append(details);
    }
  } catch (e) {
    box.textContent = e.message;
  }
});
