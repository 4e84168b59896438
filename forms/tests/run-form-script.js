#!/usr/bin/env node
// Drives the live part of ../assets/form.js over a rendered form, without a browser: a small
// DOM stand-in is built from the HTML the server rendered (argument 1), then answers are
// changed the way a user would and the script's effects (hidden items, disabled controls,
// calculated values) are checked. Run by tests/form_script.rs.
"use strict";
const fs = require("fs");
const path = require("path");
const script = require(path.join(__dirname, "..", "assets", "form.js"));

// ---- a DOM stand-in: elements with attributes, parent links, and the few queries form.js uses
const VOID = new Set(["input", "br", "meta", "link", "img", "hr", "col", "source", "option"]);
function parse(html) {
  const root = { tag: "#root", attrs: {}, children: [], parent: null };
  const all = [];
  let current = root;
  const re = /<(\/?)([a-zA-Z0-9-]+)((?:[^>"]|"[^"]*")*)>/g;
  let m, lastIndex = 0;
  while ((m = re.exec(html))) {
    if (current.tag === "textarea" && !m[1]) { continue; }
    if (current.tag === "textarea" && m[1]) { current.value = html.slice(lastIndex, m.index); }
    lastIndex = re.lastIndex;
    const [, closing, tag] = m;
    if (closing) { if (current.tag === tag.toLowerCase()) { current = current.parent; } continue; }
    const attrs = {};
    for (const a of m[3].matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?/g)) { attrs[a[1]] = a[2] === undefined ? "" : a[2]; }
    const el = makeElement(tag.toLowerCase(), attrs, current);
    current.children.push(el);
    all.push(el);
    if (!VOID.has(el.tag)) { current = el; }
  }
  return { root, all };
}
function makeElement(tag, attrs, parent) {
  const el = { tag, attrs, parent, children: [] };
  el.id = attrs.id;
  el.name = attrs.name;
  el.type = attrs.type || (tag === "textarea" ? "textarea" : tag);
  el.value = unescape(attrs.value || "");
  el.checked = "checked" in attrs || "selected" in attrs;
  el.disabled = "disabled" in attrs;
  el.hidden = "hidden" in attrs;
  el.hasAttribute = (name) => name in attrs;
  el.descendants = () => el.children.flatMap((c) => [c, ...c.descendants()]);
  el.querySelectorAll = (selector) => {
    const byName = /^\[name="(.*)"\]$/.exec(selector);
    return el.descendants().filter((d) => byName ? d.name === byName[1] : ["input", "select", "textarea"].includes(d.tag));
  };
  el.closest = (selector) => {
    for (let e = el; e; e = e.parent) { if (e.attrs && "data-link-id" in e.attrs) { return e; } }
    return null;
  };
  return el;
}
function unescape(s) {
  return s.replace(/&quot;/g, "\"").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#x3D;/g, "=").replace(/&#x27;/g, "'").replace(/&amp;/g, "&");
}

const html = fs.readFileSync(process.argv[2], "utf8");
const dom = parse(html);
const byId = (id) => dom.all.find((e) => e.id === id);
global.document = { getElementById: byId };
const form = dom.all.find((e) => e.tag === "form");
const specNode = byId("tessera-form-logic");
const specText = html.slice(html.indexOf(">", html.indexOf('id="tessera-form-logic"')) + 1, html.indexOf("</script>", html.indexOf('id="tessera-form-logic"')));
const spec = JSON.parse(specText);
if (!specNode || !form) { throw new Error("no form or logic block in the rendered HTML"); }

// ---- what a user does
function type(id, value) { byId(id).value = value; script.refresh(form, spec); }
function choose(name, value) {
  form.querySelectorAll(`[name="${name}"]`).forEach((c) => {
    if (c.type === "radio") { c.checked = c.value === value; }
    if (c.type === "checkbox" && c.value === value) { c.checked = !c.checked; }
  });
  script.refresh(form, spec);
}

let passed = 0, failed = 0;
function check(what, ok) {
  if (ok) { passed++; } else { failed++; console.log(`FAIL ${what}`); }
}
const shown = (linkId) => !byId(`item-${linkId}`).hidden;
const enabled = (id) => !byId(id).disabled;

script.refresh(form, spec);
check("referral_reason starts hidden", !shown("referral_reason") && !enabled("q-referral_reason"));
check("previous_births starts shown (first_pregnancy initially false)", shown("previous_births") && enabled("q-previous_births"));

choose("risk", "high");
check("high risk shows referral_reason", shown("referral_reason") && enabled("q-referral_reason"));
check("high risk shows facility (FHIR enableWhen on a choice)", shown("facility"));
choose("risk", "low");
check("low risk hides referral_reason again and disables it", !shown("referral_reason") && !enabled("q-referral_reason"));

choose("first_pregnancy", "true");
check("a first pregnancy hides previous_births", !shown("previous_births") && !enabled("q-previous_births"));
check("... and the APGAR items", !shown("apgar_colour") && !enabled("q-apgar_colour-0"));
choose("first_pregnancy", "false");
check("not a first pregnancy shows previous_births", shown("previous_births"));
check("apgar_breathing waits for previous_births >= 1", !shown("apgar_breathing"));
type("q-previous_births", "2");
check("previous_births 2 shows apgar_breathing", shown("apgar_breathing") && enabled("q-apgar_breathing-0"));
["apgar_colour", "apgar_pulse", "apgar_grimace", "apgar_tone", "apgar_breathing"].forEach((n, i) => choose(n, String(i % 3)));
check("APGAR score 0+1+2+0+1 = 4", byId("q-apgar_previous").value === "4");

type("q-height", "1.6");
type("q-weight", "62");
check("BMI 62 / 1.6² = 24.2", byId("q-bmi").value === "24.2");
type("q-weight", "");
check("BMI empties without a weight", byId("q-bmi").value === "");
type("q-lmp", "2024-01-01");
type("q-visit_date", "2024-06-01");
check("due date by Naegele's rule", byId("q-due_date").value === "2024-10-07");
check("gestational age 21 weeks", byId("q-ga_weeks").value === "21");
check("... and 5 days", byId("q-ga_days").value === "5");

check("fever_days hidden without fever", !shown("fever_days"));
choose("symptoms", "fever");
check("ticking fever shows fever_days", shown("fever_days") && enabled("q-fever_days"));
choose("symptoms", "fever");
check("unticking fever hides it", !shown("fever_days"));

console.log(`form.js live: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
