// The D2C faces UI: plain DOM code against the JSON API (no build step, nothing fetched from elsewhere).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { photo: null, editChoices: new Map(), generateChoices: new Map(), attributes: [] };

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function apiKeyHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

// FastAPI errors are {"detail": "text"} or, for validation, {"detail": [{loc, msg}, ...]}
async function errorText(response) {
  try {
    const body = await response.json();
    if (Array.isArray(body.detail)) {
      return body.detail.map((item) => `${(item.loc || []).slice(1).join(".") || "request"}: ${item.msg}`).join("; ");
    }
    return body.detail || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));  // pollJob (poll.js) uses it with api

function conditionParams(choices) {
  const params = new URLSearchParams();
  for (const [name, sign] of choices) params.append("attr", sign === "minus" ? `-${name}` : name);
  return params;
}

// --- tabs -------------------------------------------------------------------------------------------

for (const tab of document.querySelectorAll(".tabs button")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tabs button")) other.classList.toggle("active", other === tab);
    for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${tab.dataset.view}`;
    showError("");
  });
}

// --- attributes (chips and table) ------------------------------------------------------------------

function renderChips(container, choices, onChange) {
  container.replaceChildren();
  const ready = state.attributes.filter((item) => item.status === "ready");
  if (!ready.length) container.textContent = "No attributes yet: is a worker running?";
  for (const item of ready) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.dataset.name = item.name;
    chip.dataset.state = choices.get(item.name) || "off";
    const minus = Object.assign(document.createElement("button"), { className: "minus", textContent: "−", title: `not ${item.name}` });
    const name = Object.assign(document.createElement("span"), { className: "name", textContent: item.name.replaceAll("_", " ") });
    const plus = Object.assign(document.createElement("button"), { className: "plus", textContent: "+", title: item.name });
    for (const [button, sign] of [[minus, "minus"], [plus, "plus"]]) {
      button.type = "button";
      button.addEventListener("click", () => {
        if (choices.get(item.name) === sign) choices.delete(item.name);
        else choices.set(item.name, sign);
        chip.dataset.state = choices.get(item.name) || "off";
        onChange();
      });
    }
    chip.append(minus, name, plus);
    container.append(chip);
  }
  for (const name of [...choices.keys()]) if (!ready.some((item) => item.name === name)) choices.delete(name);
}

function renderTable() {
  const body = $("attribute-table");
  body.replaceChildren();
  for (const item of state.attributes) {
    const row = document.createElement("tr");
    row.dataset.name = item.name;
    const counts = item.counts || {};
    const examples = [counts.positives && `${counts.positives}+`, counts.negatives && `${counts.negatives}−`].filter(Boolean).join(" / ");
    const cells = [item.name, "", item.kind || "", examples, item.version, item.accuracy == null ? "" : `${Math.round(item.accuracy * 100)}%`];
    for (const value of cells) row.append(Object.assign(document.createElement("td"), { textContent: value ?? "" }));
    const badge = Object.assign(document.createElement("span"), { className: `badge ${item.status}`, textContent: item.builtin ? `${item.status} · built-in` : item.status });
    if (item.error) badge.title = item.error;
    row.children[1].append(badge);
    const actions = document.createElement("td");
    if (!item.builtin) {
      const remove = Object.assign(document.createElement("button"), { textContent: "Delete", type: "button" });
      remove.addEventListener("click", () => deleteAttribute(item.name));
      actions.append(remove);
    }
    row.append(actions);
    body.append(row);
  }
}

async function loadAttributes() {
  try {
    state.attributes = (await (await api("/attributes")).json()).attributes;
  } catch (error) {
    showError(`Could not list attributes: ${error.message}`);
    return;
  }
  // workers list the built-ins when they start: keep asking until some are there
  if (!state.attributes.length) setTimeout(loadAttributes, 3000);
  renderChips($("edit-attributes"), state.editChoices, updateEditButton);
  renderChips($("generate-attributes"), state.generateChoices, () => {});
  renderTable();
  updateEditButton();
}

async function deleteAttribute(name) {
  showError("");
  try {
    await api(`/attributes/${name}`, { method: "DELETE", headers: apiKeyHeaders() });
    await loadAttributes();
  } catch (error) {
    showError(`Could not delete ${name}: ${error.message}`);
  }
}

// --- drop zones -------------------------------------------------------------------------------------

function dropZone(zone, input, onFiles) {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    onFiles([...event.dataTransfer.files]);
  });
  input.addEventListener("change", () => onFiles([...input.files]));
}

// --- edit a photo -----------------------------------------------------------------------------------

function updateEditButton() {
  $("edit-run").disabled = !state.photo || state.editChoices.size === 0;
}

dropZone($("edit-drop"), $("edit-file"), (files) => {
  if (!files.length) return;
  state.photo = files[0];
  const before = $("before");
  before.src = URL.createObjectURL(state.photo);
  before.hidden = false;
  before.nextElementSibling.hidden = true;
  $("edit-status").textContent = `${state.photo.name} (${Math.round(state.photo.size / 1024)} KB)`;
  updateEditButton();
});

$("strength").addEventListener("input", () => { $("strength-value").textContent = Number($("strength").value).toFixed(1); });

$("edit-run").addEventListener("click", async () => {
  showError("");
  const button = $("edit-run");
  button.disabled = true;
  const params = conditionParams(state.editChoices);
  params.set("strength", $("strength").value);
  params.set("crop", $("edit-crop").value);
  params.set("seed", $("edit-seed").value || "0");
  const form = new FormData();
  form.append("image", state.photo);
  try {
    $("edit-status").textContent = "Uploading…";
    const job = await (await api(`/manipulate?${params}`, { method: "POST", body: form, headers: apiKeyHeaders() })).json();
    const done = await pollJob(job.job_id, (status) => { $("edit-status").textContent = `Job ${status.status}…`; });
    const png = await (await api(done.result_urls[0])).blob();
    const after = $("after");
    after.src = URL.createObjectURL(png);
    after.hidden = false;
    after.nextElementSibling.hidden = true;
    const download = $("download");
    download.href = after.src;
    download.hidden = false;
    $("edit-status").textContent = "Done.";
  } catch (error) {
    showError(error.message);
    $("edit-status").textContent = "";
  } finally {
    updateEditButton();
  }
});

// --- new attribute ----------------------------------------------------------------------------------

const examples = { positive: [], negative: [] };
for (const kind of ["positive", "negative"]) {
  dropZone($(`${kind}-drop`), $(`${kind}-files`), (files) => {
    examples[kind] = files;
    $(`${kind}-count`).textContent = `${files.length} image${files.length === 1 ? "" : "s"}`;
  });
}

$("define-run").addEventListener("click", async () => {
  showError("");
  const name = $("define-name").value.trim();
  const form = new FormData();
  form.append("name", name);
  form.append("crop", $("define-crop").value);
  form.append("mirror", $("define-mirror").checked ? "true" : "false");
  for (const file of examples.positive) form.append("positive", file);
  for (const file of examples.negative) form.append("negative", file);
  const button = $("define-run");
  const progress = $("define-progress");
  button.disabled = true;
  progress.hidden = false;
  try {
    $("define-status").textContent = "Uploading examples…";
    const job = await (await api("/attributes", { method: "POST", body: form, headers: apiKeyHeaders() })).json();
    await loadAttributes();
    await pollJob(job.job_id, (status) => { $("define-status").textContent = `Training ${name} (version ${job.version}): ${status.status}…`; });
    const record = await (await api(`/attributes/${name}`)).json();
    if (record.status !== "ready") throw new Error(record.error || `${name} is ${record.status}`);
    const accuracy = record.accuracy == null ? "" : `, cross-validated accuracy ${Math.round(record.accuracy * 100)}%`;
    $("define-status").textContent = `${name} is ready (${record.kind}${accuracy}).`;
  } catch (error) {
    showError(error.message);
    $("define-status").textContent = "";
  } finally {
    button.disabled = false;
    progress.hidden = true;
    await loadAttributes();
  }
});

// --- generate ---------------------------------------------------------------------------------------

$("generate-run").addEventListener("click", async () => {
  showError("");
  const params = conditionParams(state.generateChoices);
  params.set("n", $("generate-n").value || "8");
  params.set("seed", $("generate-seed").value || "0");
  const button = $("generate-run");
  button.disabled = true;
  try {
    const job = await (await api(`/generate?${params}`, { method: "POST", headers: apiKeyHeaders() })).json();
    const done = await pollJob(job.job_id, (status) => { $("generate-status").textContent = `Job ${status.status}…`; });
    const gallery = $("gallery");
    gallery.replaceChildren();
    for (const [index, url] of done.result_urls.entries()) {
      const link = Object.assign(document.createElement("a"), { href: url, download: `face-${index}.png` });
      link.append(Object.assign(document.createElement("img"), { src: url, alt: `generated face ${index + 1}` }));
      gallery.append(link);
    }
    $("generate-status").textContent = `${done.result_urls.length} faces.`;
  } catch (error) {
    showError(error.message);
    $("generate-status").textContent = "";
  } finally {
    button.disabled = false;
  }
});

$("api-key").value = localStorage.getItem("d2c-api-key") || "";
$("api-key").addEventListener("change", () => localStorage.setItem("d2c-api-key", $("api-key").value));
loadAttributes();
