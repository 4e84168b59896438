/*
 * Tessera forms: live enableWhen and calculations in the browser.
 *
 * Plain JavaScript, no build step, no dependencies, no inline code (a strict CSP works).
 * The server renders a working form without this script; the script only hides and shows
 * items as answers change and fills in calculated values. It evaluates the same JSON Logic
 * the server runs, read from <script type="application/json" id="tessera-form-logic">.
 * The evaluator below is checked against the server's engine on the same cases
 * (forms/tests/logic-cases.json) and on the official JsonLogic suite.
 */
(function (root) {
  "use strict";

  // ---------------------------------------------------------------- JSON Logic evaluator

  function isArray(v) { return Array.isArray(v); }

  function truthy(v) {
    if (isArray(v) && v.length === 0) { return false; }
    return !!v;
  }

  function isLogic(v) {
    return v !== null && typeof v === "object" && !isArray(v) && Object.keys(v).length === 1;
  }

  function getVar(data, path, fallback) {
    var notFound = fallback === undefined ? null : fallback;
    if (path === undefined || path === "" || path === null) { return data; }
    var parts = String(path).split(".");
    var value = data;
    for (var i = 0; i < parts.length; i++) {
      if (value === null || value === undefined) { return notFound; }
      value = value[parts[i]];
      if (value === undefined) { return notFound; }
    }
    return value;
  }

  function pathExists(data, path) {
    var parts = String(path).split(".");
    var value = data;
    for (var i = 0; i < parts.length; i++) {
      if (value === null || typeof value !== "object" || !Object.prototype.hasOwnProperty.call(value, parts[i])) {
        return false;
      }
      value = value[parts[i]];
    }
    return true;
  }

  // A number written as text the way Rust's f64 parser reads it (no hex, no empty text).
  var NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  function toNumber(v) {
    if (typeof v === "number") { return isFinite(v) ? v : null; }
    if (typeof v === "string") {
      var t = v.trim();
      return NUMERIC.test(t) ? Number(t) : null;
    }
    return null;
  }

  // --- dates: the same rules as forms/src/logic/dates.rs
  function daysIn(y, m) {
    return [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  }
  function parseDate(v) {
    if (typeof v !== "string" || v.length < 10) { return null; }
    if (v.length > 10 && v.charAt(10) !== "T") { return null; }
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.slice(0, 10));
    if (!m) { return null; }
    var y = +m[1], mo = +m[2], d = +m[3];
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) { return null; }
    return { y: y, m: mo, d: d };
  }
  function dayNumber(dt) {
    var t = new Date(0);
    t.setUTCFullYear(dt.y, dt.m - 1, dt.d);
    return Math.round(t.getTime() / 86400000);
  }
  function fromDayNumber(n) {
    var t = new Date(n * 86400000);
    return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
  }
  function pad(n, w) { var s = String(n); while (s.length < w) { s = "0" + s; } return s; }
  function formatDate(dt) {
    if (dt.y < 1 || dt.y > 9999) { return null; }
    return pad(dt.y, 4) + "-" + pad(dt.m, 2) + "-" + pad(dt.d, 2);
  }
  function addMonths(dt, n) {
    var index = dt.y * 12 + (dt.m - 1) + n;
    var y = Math.floor(index / 12), m = index - y * 12 + 1;
    if (y < 1 || y > 9999) { return null; }
    return { y: y, m: m, d: Math.min(dt.d, daysIn(y, m)) };
  }
  function monthsBetween(a, b) {
    if (dayNumber(b) < dayNumber(a)) { return -monthsBetween(b, a); }
    var months = (b.y - a.y) * 12 + (b.m - a.m);
    return b.d < a.d ? months - 1 : months;
  }
  var UNITS = { days: "days", day: "days", weeks: "weeks", week: "weeks", months: "months", month: "months", years: "years", year: "years" };

  function expectArgs(name, args, min, max) {
    if (args.length < min || args.length > max) {
      throw new Error(name + " takes " + (min === max ? min : min + " to " + max) + " arguments, got " + args.length);
    }
  }

  // Tessera's custom operators; arguments arrive evaluated.
  var custom = {
    date_add: function (args) {
      expectArgs("date_add", args, 2, 3);
      var unit = args.length > 2 ? UNITS[args[2]] : "days";
      if (!unit) { throw new Error("date_add: the unit must be \"days\", \"weeks\", \"months\" or \"years\""); }
      var date = parseDate(args[0]), amount = toNumber(args[1]);
      if (date === null || amount === null) { return null; }
      amount = Math.trunc(amount);
      var moved;
      if (unit === "days" || unit === "weeks") {
        moved = fromDayNumber(dayNumber(date) + amount * (unit === "weeks" ? 7 : 1));
      } else {
        moved = addMonths(date, amount * (unit === "years" ? 12 : 1));
      }
      return moved === null ? null : formatDate(moved);
    },
    days_between: function (args) {
      expectArgs("days_between", args, 2, 2);
      var a = parseDate(args[0]), b = parseDate(args[1]);
      return a === null || b === null ? null : dayNumber(b) - dayNumber(a);
    },
    months_between: function (args) {
      expectArgs("months_between", args, 2, 2);
      var a = parseDate(args[0]), b = parseDate(args[1]);
      return a === null || b === null ? null : monthsBetween(a, b);
    },
    years_between: function (args) {
      expectArgs("years_between", args, 2, 2);
      var a = parseDate(args[0]), b = parseDate(args[1]);
      if (a === null || b === null) { return null; }
      return Math.trunc(monthsBetween(a, b) / 12);
    },
    round: function (args) {
      expectArgs("round", args, 1, 2);
      var decimals = 0;
      if (args.length > 1) {
        decimals = toNumber(args[1]);
        if (decimals === null || decimals % 1 !== 0 || decimals < 0 || decimals > 10) {
          throw new Error("round: decimals must be a whole number from 0 to 10");
        }
      }
      var n = toNumber(args[0]);
      if (n === null) { return null; }
      var factor = Math.pow(10, decimals), scaled = n * factor;
      // Half away from zero, like Rust's f64::round.
      return (scaled < 0 ? -Math.round(-scaled) : Math.round(scaled)) / factor;
    },
    floor: function (args) {
      expectArgs("floor", args, 1, 1);
      var n = toNumber(args[0]);
      return n === null ? null : Math.floor(n);
    },
    observation: function (args, rootData) {
      expectArgs("observation", args, 2, 2);
      if (typeof args[0] !== "string" || typeof args[1] !== "string") {
        throw new Error("observation takes a system and a code, both text");
      }
      var observations = rootData && rootData.observations;
      if (!observations || typeof observations !== "object") { return null; }
      var v = observations[args[0] + "|" + args[1]];
      return v === undefined ? null : v;
    }
  };

  // --- coercions: the server engine's (datalogic-rs) rules, so both sides agree on the data
  // forms produce (numbers, text, true/false, and null for unanswered items).
  function fail() { throw new Error("NaN"); }
  function arith(x) {
    if (typeof x === "number") { return x; }
    if (x === null || x === undefined) { return 0; }
    if (typeof x === "boolean") { return x ? 1 : 0; }
    if (typeof x === "string") {
      if (x === "") { return 0; }
      if (NUMERIC.test(x)) { return Number(x); }
    }
    return fail();
  }
  function finite(n) { return isFinite(n) ? n : null; }
  function sameArrays(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
  function looseEqual(a, b) {
    if (a === null || b === null) {
      var other = a === null ? b : a;
      if (other === null) { return true; }
      if (typeof other === "object") { return fail(); }
      return other === 0 || other === false || other === "";
    }
    var ta = typeof a, tb = typeof b;
    if (ta === "object" || tb === "object") {
      if (isArray(a) && isArray(b)) { return sameArrays(a, b); }
      return ta === "object" && tb === "object" ? false : fail();
    }
    if (ta === tb) { return a === b; }
    if (ta === "boolean" && tb === "string") { return String(a) === b; }
    if (tb === "boolean" && ta === "string") { return String(b) === a; }
    // A number and text: the text must be a number (unlike in arithmetic, "" is not 0).
    if ((ta === "string" && !NUMERIC.test(a)) || (tb === "string" && !NUMERIC.test(b))) { return fail(); }
    return arith(a) === arith(b);
  }
  function strictEqual(a, b) {
    return isArray(a) && isArray(b) ? sameArrays(a, b) : a === b;
  }
  // Negative, zero or positive; NaN when the two cannot be ordered (the comparison is false).
  function order(a, b) {
    if (typeof a === "string" && typeof b === "string") { return a < b ? -1 : (a > b ? 1 : 0); }
    var textA = typeof a === "string" && a !== "" && !NUMERIC.test(a);
    var textB = typeof b === "string" && b !== "" && !NUMERIC.test(b);
    if (textA || textB) {
      var other = textA ? b : a;
      return other === null || typeof other === "boolean" ? NaN : fail();
    }
    return arith(a) - arith(b);
  }
  function chain(test) {
    return function (a) {
      for (var i = 0; i + 1 < a.length; i++) { if (!test(order(a[i], a[i + 1]))) { return false; } }
      return true;
    };
  }
  function numbersOnly(a) {
    if (a.length === 0 || a.some(function (x) { return typeof x !== "number"; })) { return fail(); }
    return a;
  }

  // Standard JsonLogic operators whose arguments are evaluated first.
  var standard = {
    "==": function (a) { return looseEqual(a[0], a[1]); },
    "===": function (a) { return strictEqual(a[0], a[1]); },
    "!=": function (a) { return !looseEqual(a[0], a[1]); },
    "!==": function (a) { return !strictEqual(a[0], a[1]); },
    ">": chain(function (d) { return d > 0; }),
    ">=": chain(function (d) { return d >= 0; }),
    "<": chain(function (d) { return d < 0; }),
    "<=": chain(function (d) { return d <= 0; }),
    "!!": function (a) { return truthy(a[0]); },
    "!": function (a) { return !truthy(a[0]); },
    "%": function (a) {
      return finite(a.slice(1).reduce(function (r, x) { var d = arith(x); return d === 0 ? fail() : r % d; }, arith(a[0])));
    },
    "log": function (a) { return a[0]; },
    "in": function (a) { return !!a[1] && typeof a[1].indexOf === "function" && a[1].indexOf(a[0]) !== -1; },
    "cat": function (a) { return a.reduce(function (s, x) { return s + x; }, ""); },
    "substr": function (a) {
      var source = String(a[0]), start = a[1], end = a[2];
      if (start < 0) { start = Math.max(source.length + start, 0); }
      var rest = source.substr(start);
      if (end === undefined) { return rest; }
      return end < 0 ? rest.substr(0, Math.max(rest.length + end, 0)) : rest.substr(0, end);
    },
    "+": function (a) { return finite(a.reduce(function (sum, x) { return sum + arith(x); }, 0)); },
    "*": function (a) { return finite(a.reduce(function (product, x) { return product * arith(x); }, 1)); },
    "-": function (a) {
      if (a.length === 0) { return fail(); }
      if (a.length === 1) { return -arith(a[0]); }
      return finite(a.slice(1).reduce(function (r, x) { return r - arith(x); }, arith(a[0])));
    },
    "/": function (a) {
      return finite(a.slice(1).reduce(function (r, x) {
        if (x === 0) { return fail(); }
        var d = arith(x);
        // A null, false or "0" divisor gives the largest number (the server engine's rule).
        if (d === 0) { return r === 0 ? 0 : (r > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE); }
        return r / d;
      }, arith(a[0])));
    },
    "min": function (a) { return Math.min.apply(null, numbersOnly(a)); },
    "max": function (a) { return Math.max.apply(null, numbersOnly(a)); },
    "merge": function (a) { return a.reduce(function (all, x) { return all.concat(x); }, []); },
    "var": function (a, data) { return getVar(data, a[0], a[1]); },
    "missing": function (a, data) {
      var keys = isArray(a[0]) ? a[0] : a, missing = [];
      for (var i = 0; i < keys.length; i++) {
        // Only an absent key counts, as in the server engine (datalogic-rs); jsonlogic.com
        // also counts null and "", but forms never store a null or empty answer (an
        // unanswered item is absent), so form rules cannot tell the difference.
        if (!pathExists(data, keys[i])) { missing.push(keys[i]); }
      }
      return missing;
    },
    "missing_some": function (a, data) {
      var need = a[0], keys = a[1], missing = standard.missing([keys], data);
      return keys.length - missing.length >= need ? [] : missing;
    }
  };

  /** Evaluates a JSON Logic rule against data, like the server's engine. */
  function apply(logic, data, rootData) {
    if (rootData === undefined) { rootData = data; }
    if (isArray(logic)) { return logic.map(function (l) { return apply(l, data, rootData); }); }
    if (!isLogic(logic)) { return logic; }
    var op = Object.keys(logic)[0];
    var values = logic[op];
    if (!isArray(values)) { values = [values]; }
    var i, current;

    // Operators that decide which arguments to evaluate.
    if (op === "if" || op === "?:") {
      for (i = 0; i < values.length - 1; i += 2) {
        if (truthy(apply(values[i], data, rootData))) { return apply(values[i + 1], data, rootData); }
      }
      return values.length === i + 1 ? apply(values[i], data, rootData) : null;
    }
    if (op === "and") {
      for (i = 0; i < values.length; i++) {
        current = apply(values[i], data, rootData);
        if (!truthy(current)) { return current; }
      }
      return current;
    }
    if (op === "or") {
      for (i = 0; i < values.length; i++) {
        current = apply(values[i], data, rootData);
        if (truthy(current)) { return current; }
      }
      return current;
    }
    if (op === "filter" || op === "map" || op === "all" || op === "none" || op === "some") {
      var scoped = apply(values[0], data, rootData), each = values[1];
      if (!isArray(scoped)) { return op === "map" || op === "filter" ? [] : (op === "none"); }
      if (op === "map") { return scoped.map(function (d) { return apply(each, d, rootData); }); }
      var kept = scoped.filter(function (d) { return truthy(apply(each, d, rootData)); });
      if (op === "filter") { return kept; }
      if (op === "all") { return scoped.length > 0 && kept.length === scoped.length; }
      if (op === "none") { return kept.length === 0; }
      return kept.length > 0;
    }
    if (op === "reduce") {
      var list = apply(values[0], data, rootData), initial = apply(values[2], data, rootData);
      if (initial === undefined) { initial = null; }
      if (!isArray(list)) { return initial; }
      return list.reduce(function (acc, cur) {
        return apply(values[1], { current: cur, accumulator: acc }, rootData);
      }, initial);
    }

    var args = values.map(function (v) { return apply(v, data, rootData); });
    if (Object.prototype.hasOwnProperty.call(standard, op)) { return standard[op](args, data); }
    if (Object.prototype.hasOwnProperty.call(custom, op)) { return custom[op](args, rootData); }
    throw new Error("unknown operator '" + op + "'");
  }

  var logic = { apply: apply, truthy: truthy, parseDate: parseDate };

  // ---------------------------------------------------------------- live form behaviour

  function answerFromLogic(item, value) {
    // Mirrors Form::answers_from_logic (forms/src/answers.rs): the text shown for a result.
    if (value === null || value === undefined) { return null; }
    if (isArray(value)) { return item.repeats ? value.map(function (v) { return answerFromLogic(item, v); }) : null; }
    switch (item.type) {
      case "integer": return typeof value === "number" && isFinite(value) ? (value < 0 ? -Math.round(-value) : Math.round(value)) : null;
      case "decimal": case "quantity": return typeof value === "number" && isFinite(value) ? value : null;
      case "boolean": return typeof value === "boolean" ? value : null;
      case "date": return parseDate(value) && value.length === 10 ? value : null;
      case "choice": case "open-choice":
        var code = typeof value === "number" ? String(value) : value;
        if (typeof code !== "string" || code === "") { return null; }
        return item.options.indexOf(code) !== -1 || item.type === "open-choice" ? code : null;
      default: return typeof value === "string" && value !== "" ? value : (typeof value === "number" ? String(value) : null);
    }
  }

  function readAnswers(form, item, zone) {
    var inputs = form.querySelectorAll("[name=\"" + item.linkId + "\"]");
    var values = [];
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.disabled) { continue; }
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) { continue; }
      var text = String(input.value).trim();
      if (text === "") { continue; }
      var v = text;
      if (item.type === "integer" || item.type === "decimal" || item.type === "quantity") {
        v = toNumber(text);
        if (v === null || (item.type === "integer" && v % 1 !== 0)) { continue; }
      } else if (item.type === "boolean") {
        v = text === "true";
      } else if (item.type === "time" && text.length === 5) {
        v = text + ":00";
      } else if (item.type === "dateTime" && text.length === 16) {
        v = text + ":00" + zone;
      }
      values.push(v);
    }
    if (item.repeats) { return values.length ? values : null; }
    return values.length ? values[0] : null;
  }

  function showCalculated(form, item, value) {
    var inputs = form.querySelectorAll("[name=\"" + item.linkId + "\"]");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].value = value === null ? "" : String(value);
    }
  }

  function setEnabled(form, item, enabled) {
    var wrapper = document.getElementById("item-" + item.linkId);
    if (!wrapper || wrapper.hidden === !enabled) { return false; }
    wrapper.hidden = !enabled;
    var controls = wrapper.querySelectorAll("input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      // A disabled control is not posted; a control inside a hidden item keeps its own
      // state when its item is shown again, unless an enclosing item still hides it.
      // A read-only choice's radio buttons stay disabled (hidden inputs carry its value).
      var owner = controls[i].closest("[data-link-id]");
      controls[i].disabled = !enabled || (owner !== null && owner.hidden) || controls[i].hasAttribute("data-locked");
    }
    return true;
  }

  function refresh(form, spec) {
    var byId = {};
    spec.items.forEach(function (item) { byId[item.linkId] = item; });
    // Showing or hiding items changes which answers count, so settle in a few rounds.
    for (var round = 0; round < 5; round++) {
      var data = JSON.parse(JSON.stringify(spec.context || {}));
      spec.items.forEach(function (item) {
        if (item.question) {
          var v = readAnswers(form, item, spec.timeZone || "Z");
          if (v !== null) { data[item.linkId] = v; }
        }
      });
      spec.calculationOrder.forEach(function (linkId) {
        var item = byId[linkId], value = null;
        try { value = answerFromLogic(item, apply(item.calculated, data)); } catch (e) { value = null; }
        if (value === null) { delete data[linkId]; } else { data[linkId] = value; }
        showCalculated(form, item, value);
      });
      var changed = false, enabled = {};
      spec.items.forEach(function (item) {
        var on = item.parent === null || enabled[item.parent];
        if (on && item.enable !== null) {
          try { on = truthy(apply(item.enable, data)); } catch (e) { on = false; }
        }
        enabled[item.linkId] = on;
        if (!on) { delete data[item.linkId]; }
        if (setEnabled(form, item, on)) { changed = true; }
      });
      if (!changed) { return; }
    }
  }

  function start() {
    var specNode = document.getElementById("tessera-form-logic");
    var form = document.querySelector("form[data-tessera-form]");
    if (!specNode || !form) { return; }
    var spec = JSON.parse(specNode.textContent);
    form.classList.add("tessera-form--live");
    var run = function () { refresh(form, spec); };
    form.addEventListener("input", run);
    form.addEventListener("change", run);
    run();
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  if (typeof module === "object" && module.exports) {
    // In node (the tests): the evaluator, and the live pass over a document given as a global.
    logic.refresh = refresh;
    module.exports = logic;
  } else {
    root.TesseraLogic = logic;
    if (typeof document !== "undefined") {
      if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
    }
  }
})(this);
