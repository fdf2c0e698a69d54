// The faces an edit found (GET /jobs/{id} `faces`): outlines over the result and a one-line summary. Boxes are in the
// photo's pixels; the outlines are placed in percent of the region on show, so they follow the displayed size.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const SAME_PERSON_UNDER = 0.6;  // the face embedding's usual threshold, as the API documents it

function faceState(face) {
  return face.changed ? "edited" : "left unchanged";
}

// "2 faces found, 1 edited; identity distance 0.31 (same person under 0.6). Face 2: already has …"
function facesSummary(faces) {
  if (!faces.length) return "No face found.";
  const edited = faces.filter((face) => face.changed).length;
  const found = `${faces.length} face${faces.length === 1 ? "" : "s"} found, ${edited} edited`;
  const measured = faces.map((face, index) => [index + 1, face.identity_distance]).filter(([, distance]) => distance != null);
  // numbered when some faces have no distance, so each number belongs to the outline it measures
  const named = measured.length < faces.length && faces.length > 1;
  const distances = measured.map(([number, distance]) => (named ? `face ${number}: ` : "") + distance.toFixed(2));
  const identity = distances.length ? `; identity distance ${distances.join(", ")} (same person under ${SAME_PERSON_UNDER})` : "";
  const notes = faces.map((face, index) => [index + 1, face.note]).filter(([, note]) => note)
    .map(([number, note]) => (faces.length > 1 ? `Face ${number}: ${note}` : note.charAt(0).toUpperCase() + note.slice(1)));
  return [`${found}${identity}.`, ...notes.map((note) => (note.endsWith(".") ? note : `${note}.`))].join(" ");
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

// Outline each face of `faces` over `view` {x, y, w, h} (photo pixels) in the stage-filling `svg`
function drawFaces(svg, faces, view) {
  svg.replaceChildren();
  // an SVG element has no `hidden` property: the attribute itself
  if (svg.toggleAttribute("hidden", !faces || !faces.length)) return;
  const percent = (value, whole) => `${(value / whole) * 100}%`;
  faces.forEach((face, index) => {
    const [x, y, w, h] = face.box;
    const outline = svgElement("g", { class: `face ${face.changed ? "edited" : "unchanged"}`, "data-face": index + 1 });
    const title = svgElement("title", {});
    title.textContent = `Face ${index + 1}: ${faceState(face)}${face.note ? ` (${face.note})` : ""}`;
    const left = percent(x - view.x, view.w), top = percent(y - view.y, view.h);
    outline.append(
      title,
      svgElement("rect", { x: left, y: top, width: percent(w, view.w), height: percent(h, view.h) }),
      svgElement("text", { x: left, y: top, dx: 4, dy: 14 }),
    );
    outline.lastChild.textContent = String(index + 1);
    svg.append(outline);
  });
  const states = faces.map((face, index) => `face ${index + 1} ${faceState(face)}`).join(", ");
  svg.setAttribute("aria-label", `Outlines of the faces found: ${states}`);
}
