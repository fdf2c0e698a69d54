// The D2C faces UI: plain DOM code against the JSON API (no build step, nothing fetched from elsewhere).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { photo: null, editChoices: new Map(), generateChoices: new Map(), attributes: [] };

// The API names its parameters (crop=center, n); the user sees the form's labels ("centre square", How many)
const FIELD_LABELS = {
  attr: "Attributes", strength: "Strength", seed: "Seed", crop: "Crop", faces: "Faces", image: "Photo", n: "How many",
  name: "Name", positive: "Positive examples", negative: "Negative examples",
};

function optionLabel(selectId, value) {
  const option = [...$(selectId).options].find((item) => item.value === value);
  return option ? option.textContent : value;
}

function inUiWords(message) {
  return message.replace(/\bcrop=(face|center|none)\b/g, (_, value) => `Crop "${optionLabel("edit-crop", value)}"`);
}

function showError(message) {
  const box = $("error");
  box.textContent = inUiWords(message);
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
      return body.detail.map((item) => {
        const [field, ...rest] = (item.loc || []).slice(1);
        const where = [FIELD_LABELS[field] || field, ...rest].filter((part) => part !== undefined).join(".");
        return `${where || "request"}: ${item.msg}`;
      }).join("; ");
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
    chip.title = [item.description, item.strength != null && `tuned strength ${item.strength.toFixed(2)}`].filter(Boolean).join("; ");
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
    const cells = [item.name, "", item.kind || "", examples, item.version, "", ""];
    for (const value of cells) row.append(Object.assign(document.createElement("td"), { textContent: value ?? "" }));
    if (item.description) row.children[0].append(Object.assign(document.createElement("small"), { className: "muted", textContent: item.description }));
    if (item.examples) row.children[3].append(Object.assign(document.createElement("small"), { className: "muted", textContent: framingText(item.examples) }));
    for (const [index, [text, why]] of [[5, accuracyCell(item)], [6, strengthCell(item)]]) {
      row.children[index].textContent = text;
      if (why) row.children[index].title = why;
    }
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

// [what the accuracy cell shows, why] : never an empty cell without a reason
function accuracyCell(item) {
  if (item.accuracy != null) return [`${Math.round(item.accuracy * 100)}%`, "cross-validated on its examples"];
  if (item.status === "training" && !item.kind) return ["…", "measured when the fit ends"];
  if (item.status === "failed" && !item.kind) return ["—", "the fit failed"];
  if (item.kind === "pu") return ["n/a (positives only)", "without negative examples there is nothing to measure accuracy on"];
  return ["not measured", "no cross-validated accuracy was recorded when it was fitted"];
}

// "48 aligned · 2 fell back · 0 refused": how the examples were framed for the model
function framingText(examples) {
  return `${examples.aligned} aligned · ${examples.center_fallback} fell back · ${examples.refused} refused`;
}

function strengthCell(item) {
  if (item.strength != null && item.remove_strength != null) {
    return [`+${item.strength.toFixed(2)} / −${item.remove_strength.toFixed(2)}`,
      "tuned when it was defined, for adding and for removing it: what strength 1 applies"];
  }
  if (item.strength != null) return [item.strength.toFixed(2), "tuned when it was defined: what strength 1 applies"];
  if (item.status === "training") return ["…", "tuned when the fit ends"];
  return ["not tuned", "defined before strengths were tuned: strength 1 applies the untuned edit"];
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

// The result: before and after stacked in one stage, a slider revealing the edit from the divider on, zoomed on the
// edited region (where the two differ) or showing the whole photo.
const CHANGE_THRESHOLD = 24;  // summed |RGB| difference on a <= 256 px rendering: decoding noise stays under it
const ZOOM_PADDING = 0.2;     // of the edited region's longer side, on each side

const result = { box: null, url: null, faces: null };

function photoSize() {
  const before = $("before");
  return { w: before.naturalWidth, h: before.naturalHeight };
}

// The edited region in photo pixels {x, y, w, h}, a padded square clipped to the photo; null when nothing changed
function editedBox(before, after) {
  const W = after.naturalWidth, H = after.naturalHeight;
  if (!W || before.naturalWidth !== W || before.naturalHeight !== H) return null;
  const scale = Math.min(1, 256 / Math.max(W, H));
  const w = Math.max(1, Math.round(W * scale)), h = Math.max(1, Math.round(H * scale));
  const pixels = (image) => {
    const canvas = Object.assign(document.createElement("canvas"), { width: w, height: h });
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0, w, h);
    return context.getImageData(0, 0, w, h).data;
  };
  const [a, b] = [pixels(before), pixels(after)];
  let [left, top, right, bottom] = [w, h, -1, -1];
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const i = (y * w + x) * 4;
      if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > CHANGE_THRESHOLD) {
        left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
    }
  }
  if (right < 0) return null;
  const centreX = (left + right + 1) / 2 / scale, centreY = (top + bottom + 1) / 2 / scale;
  const longer = Math.max(right - left + 1, bottom - top + 1) / scale;
  const side = longer * (1 + 2 * ZOOM_PADDING);
  const boxW = Math.min(side, W), boxH = Math.min(side, H);
  const x = Math.min(Math.max(centreX - boxW / 2, 0), W - boxW), y = Math.min(Math.max(centreY - boxH / 2, 0), H - boxH);
  return { x: Math.round(x), y: Math.round(y), w: Math.round(boxW), h: Math.round(boxH) };
}

// Show `box` of the photo (null: all of it) filling the stage
function showRegion(box) {
  const { w: W, h: H } = photoSize();
  if (!W) return;
  const view = box || { x: 0, y: 0, w: W, h: H };
  const stage = $("stage");
  stage.style.aspectRatio = `${view.w} / ${view.h}`;
  stage.style.maxWidth = `calc(70vh * ${view.w / view.h})`;
  stage.dataset.view = box ? "face" : "whole";
  stage.dataset.box = [view.x, view.y, view.w, view.h].join(",");
  for (const image of [$("before"), $("after")]) {
    Object.assign(image.style, {
      left: `${(-view.x / view.w) * 100}%`, top: `${(-view.y / view.h) * 100}%`,
      width: `${(W / view.w) * 100}%`, height: `${(H / view.h) * 100}%`,
    });
  }
  $("show-face").classList.toggle("active", Boolean(box));
  $("show-whole").classList.toggle("active", !box);
  outlineFaces();
}

// The faces' outlines over the region on show (the stage's data-box), unless the user turned them off
function outlineFaces() {
  const [x, y, w, h] = $("stage").dataset.box.split(",").map(Number);
  drawFaces($("faces-overlay"), $("show-outlines").checked ? result.faces : null, { x, y, w, h });
}

function reveal() {
  const at = $("reveal").value;
  $("after-layer").style.clipPath = `inset(0 0 0 ${at}%)`;
  $("divider").style.left = `${at}%`;
}

function clearResult() {
  if (result.url) URL.revokeObjectURL(result.url);
  Object.assign(result, { box: null, url: null, faces: null });
  $("after").removeAttribute("src");
  $("after-layer").hidden = true;
  $("divider").hidden = true;
  $("result-bar").hidden = true;
  $("result-note").textContent = "";
  $("faces-summary").textContent = "";
  $("faces-legend").hidden = true;
  $("outline-toggle").hidden = true;
  const download = $("download");
  download.hidden = true;
  download.removeAttribute("href");
  showRegion(null);
}

// `faces`: the job's faces (null for a job that did not list them)
async function showResult(png, faces) {
  const after = $("after");
  result.faces = faces;
  result.url = URL.createObjectURL(png);
  after.src = result.url;
  await after.decode();
  result.box = editedBox($("before"), after);
  const { w: W, h: H } = photoSize();
  const zoomed = result.box && result.box.w * result.box.h < 0.8 * W * H;
  $("show-face").disabled = !zoomed;
  $("result-note").textContent = !result.box ? "The edit changed nothing visible at this strength."
    : zoomed ? `Zoomed on the edited face (${result.box.w} × ${result.box.h} of ${W} × ${H} pixels); drag the slider to compare.`
      : "Drag the slider to compare.";
  $("faces-summary").textContent = faces ? facesSummary(faces) : "";
  $("faces-legend").hidden = !faces?.length;
  $("outline-toggle").hidden = !faces?.length;
  $("after-layer").hidden = false;
  $("divider").hidden = false;
  $("result-bar").hidden = false;
  reveal();
  showRegion(zoomed ? result.box : null);
  const download = $("download");
  download.href = result.url;
  download.hidden = false;
}

$("show-face").addEventListener("click", () => showRegion(result.box));
$("show-whole").addEventListener("click", () => showRegion(null));
$("reveal").addEventListener("input", reveal);
$("show-outlines").addEventListener("change", outlineFaces);

dropZone($("edit-drop"), $("edit-file"), async (files) => {
  if (!files.length) return;
  showError("");
  clearResult();
  state.photo = files[0];
  const before = $("before");
  if (before.src) URL.revokeObjectURL(before.src);
  before.src = URL.createObjectURL(state.photo);
  before.hidden = false;
  $("stage-placeholder").hidden = true;
  $("edit-status").textContent = `${state.photo.name} (${Math.round(state.photo.size / 1024)} KB)`;
  updateEditButton();
  try {
    await before.decode();
    showRegion(null);
  } catch {
    showError(`${state.photo.name}: the browser cannot show this image (the server may still read it)`);
  }
});

// only "find the face" looks for faces: the other crops edit one square, whatever it holds
function updateFacesChoice() {
  const faces = $("edit-faces");
  faces.disabled = $("edit-crop").value !== "face";
  faces.title = faces.disabled ? "used with the crop \"find the face\"" : "";
}
$("edit-crop").addEventListener("change", updateFacesChoice);

$("strength").addEventListener("input", () => { $("strength-value").textContent = Number($("strength").value).toFixed(1); });

$("edit-run").addEventListener("click", async () => {
  showError("");
  const button = $("edit-run");
  button.disabled = true;
  const params = conditionParams(state.editChoices);
  params.set("strength", $("strength").value);
  params.set("crop", $("edit-crop").value);
  params.set("faces", $("edit-faces").value);
  params.set("seed", $("edit-seed").value || "0");
  const form = new FormData();
  form.append("image", state.photo);
  try {
    $("edit-status").textContent = "Uploading…";
    const job = await (await api(`/manipulate?${params}`, { method: "POST", body: form, headers: apiKeyHeaders() })).json();
    const done = await pollJob(job.job_id, (status, waited) => { $("edit-status").textContent = jobStatusText(status, waited); });
    await showResult(await (await api(done.result_urls[0])).blob(), done.faces);
    $("edit-status").textContent = "Done.";
  } catch (error) {
    clearResult();
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
    await pollJob(job.job_id, (status, waited) => {
      $("define-status").textContent = `Training ${name} (version ${job.version}): ${jobStatusText(status, waited)}`;
    });
    const record = await (await api(`/attributes/${name}`)).json();
    if (record.status !== "ready") throw new Error(record.error || `${name} is ${record.status}`);
    const accuracy = record.accuracy == null ? "" : `, cross-validated accuracy ${Math.round(record.accuracy * 100)}%`;
    const strength = record.strength == null ? "" : `, tuned strength ${record.strength.toFixed(2)}`;
    const framing = record.examples ? `; examples ${framingText(record.examples)}` : "";
    $("define-status").textContent = `${name} is ready (${record.kind}${accuracy}${strength}${framing}).`;
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
    const done = await pollJob(job.job_id, (status, waited) => { $("generate-status").textContent = jobStatusText(status, waited); });
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
