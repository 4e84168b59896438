#!/usr/bin/env node
// Runs the shared JSON Logic cases (logic-cases.json) and the official JsonLogic suite
// (jsonlogic-tests.json) against the browser evaluator in ../assets/form.js.
// Exits non-zero on any mismatch. Run by tests/logic_cases.rs; also runnable by hand:
//   node forms/tests/run-logic-cases.js
"use strict";
const fs = require("fs");
const path = require("path");
const logic = require(path.join(__dirname, "..", "assets", "form.js"));

function same(a, b) {
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) < 1e-12;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
  }
  return a === b;
}

function run(rule, data) {
  try {
    const result = logic.apply(rule, data);
    if (typeof result === "number" && !isFinite(result)) return { error: "NaN" };
    return { result: result === undefined ? null : result };
  } catch (e) {
    return { error: e.message };
  }
}

let passed = 0, failed = 0;
const cases = JSON.parse(fs.readFileSync(path.join(__dirname, "logic-cases.json"), "utf8"));
for (const c of cases) {
  if (typeof c === "string") continue;
  const got = run(c.rule, c.data);
  const ok = c.error ? got.error !== undefined : got.error === undefined && same(got.result, c.result);
  if (ok) { passed++; } else {
    failed++;
    console.log(`FAIL logic-cases: ${c.description}: expected ${c.error ? "an error" : JSON.stringify(c.result)}, got ${JSON.stringify(got)}`);
  }
}
const official = JSON.parse(fs.readFileSync(path.join(__dirname, "jsonlogic-tests.json"), "utf8"));
for (const c of official) {
  if (typeof c === "string") continue;
  const [rule, data, expected] = c;
  const got = run(rule, data);
  if (got.error === undefined && same(got.result, expected)) { passed++; continue; }
  failed++;
  console.log(`FAIL jsonlogic-tests: ${JSON.stringify(rule)} with ${JSON.stringify(data)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
}
console.log(`form.js: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
