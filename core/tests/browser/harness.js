// The harness every browser scenario uses: it launches the system's headless Chromium through
// playwright-core, runs the scenario's steps, and reports on stdout as exactly one JSON line:
//
//   {"ok":true,"scenario":"...","steps":["..."],"results":{...},"ms":1234}
//   {"ok":false,"scenario":"...","failed_step":"...","error":"...","url":"...","html":"..."}
//
// with exit status 0 or 1. Everything else goes to stderr. The Rust side
// (core/tests/support/browser.rs) starts the real server, runs `node <scenario>.js` with the
// base URL and credentials in environment variables, and asserts on the exit status and the
// JSON. A scenario is a module that calls `run(name, async (h) => { ... })`.
//
// Environment: TESSERA_BASE_URL (required), TESSERA_CHROMIUM (default /usr/bin/chromium),
// TESSERA_BROWSER_SCREENSHOTS (a directory: a full-page screenshot of every page seen), plus
// whatever the scenario reads with h.env(NAME).

import { chromium } from 'playwright-core';

// Flags for a headless Chromium in a container or CI: no sandbox (no user namespaces there),
// nothing fetched in the background, no QUIC.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const log = (...args) => console.error('[browser]', ...args);

export class ScenarioError extends Error {}

// One browser session (cookie jar): a context and its page.
export class Session {
  constructor(harness, context, page, label) {
    this.h = harness;
    this.context = context;
    this.page = page;
    this.label = label;
    // The last top-level document response: its status and headers.
    this.last = null;
    page.on('response', (response) => {
      if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) {
        this.last = { status: response.status(), headers: response.headers(), url: response.url() };
      } else if (response.status() >= 400) {
        // A page's stylesheet, icon or image that failed.
        harness.consoleErrors.push(`${label}: ${response.status()} for ${response.url()}`);
      }
    });
    page.on('requestfailed', (request) => {
      // ERR_ABORTED is the browser cancelling a request itself, most often the icon of a
      // page left (by a click or form submission) before it finished loading: no fault of
      // the server. Refusals, resets and CSP blocks are still errors.
      if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
      harness.consoleErrors.push(`${label}: ${request.url()} failed: ${request.failure()?.errorText}`);
    });
    page.on('console', (message) => {
      // Chromium reports every error status as a console error, including the pages a
      // scenario expects to be refused (403, 400): those are checked by status instead, and
      // failed subresources by the response handler above. CSP violations and script
      // errors stay errors.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) {
        harness.consoleErrors.push(`${label}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => harness.consoleErrors.push(`${label}: ${error.message}`));
  }

  url(path) {
    return path.startsWith('http') ? path : `${this.h.base}${path}`;
  }

  // Keeps the page's HTML, so that a scenario can check afterwards what was ever shown.
  async snapshot() {
    const html = await this.page.content();
    this.h.pages.push({ url: this.page.url(), html });
    // TESSERA_BROWSER_SCREENSHOTS=<dir>: a picture of every page, to look at by hand.
    const dir = process.env.TESSERA_BROWSER_SCREENSHOTS;
    if (dir) {
      const n = String(this.h.pages.length).padStart(3, '0');
      await this.page.screenshot({ path: `${dir}/${this.h.name}-${n}.png`, fullPage: true });
    }
    return html;
  }

  async goto(path) {
    const response = await this.page.goto(this.url(path), { waitUntil: 'load' });
    await this.snapshot();
    return response;
  }

  // Clicks a submit button (or link) and waits for the page it leads to.
  async submit(selector) {
    const [response] = await Promise.all([
      this.page.waitForNavigation({ waitUntil: 'load' }),
      this.page.click(selector),
    ]);
    await this.snapshot();
    return response;
  }

  async fill(selector, value) {
    await this.page.fill(selector, value);
  }

  async text(selector) {
    return (await this.page.textContent(selector))?.trim() ?? '';
  }

  async has(selector) {
    return (await this.page.$(selector)) !== null;
  }

  path() {
    return new URL(this.page.url()).pathname;
  }

  status() {
    return this.last?.status;
  }

  header(name) {
    return this.last?.headers?.[name.toLowerCase()];
  }

  // A state-changing request with this session's cookies but not from a page's form: what a
  // hostile site or a script could send.
  async post(path, form) {
    const response = await this.context.request.post(this.url(path), { form, maxRedirects: 0 });
    return { status: response.status(), text: await response.text(), headers: response.headers() };
  }
}

export class Harness {
  constructor(name, browser) {
    this.name = name;
    this.browser = browser;
    this.base = Harness.required('TESSERA_BASE_URL').replace(/\/$/, '');
    this.steps = [];
    this.results = {};
    this.pages = [];
    this.consoleErrors = [];
    this.current = '(start)';
    this.sessions = [];
  }

  static required(name) {
    const value = process.env[name];
    if (value === undefined || value === '') throw new ScenarioError(`environment variable ${name} is not set`);
    return value;
  }

  env(name) {
    return Harness.required(name);
  }

  // A fresh browser session: its own cookies, as another person at another browser.
  async session(label = `session ${this.sessions.length + 1}`) {
    const context = await this.browser.newContext({ baseURL: this.base, javaScriptEnabled: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const session = new Session(this, context, page, label);
    this.sessions.push(session);
    return session;
  }

  async step(name, body) {
    this.current = name;
    const started = Date.now();
    log(`step: ${name}`);
    await body();
    this.steps.push(name);
    log(`  ok (${Date.now() - started} ms)`);
  }

  check(condition, message) {
    if (!condition) throw new ScenarioError(message);
  }

  equal(actual, expected, message) {
    if (actual !== expected) {
      throw new ScenarioError(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
  }

  contains(haystack, needle, message) {
    if (!String(haystack ?? '').includes(needle)) {
      throw new ScenarioError(`${message}: ${JSON.stringify(needle)} not in ${JSON.stringify(String(haystack ?? '').slice(0, 500))}`);
    }
  }

  record(key, value) {
    this.results[key] = value;
  }

  // Asserts that no page seen so far ever contained `text` (a secret, a password).
  neverShown(text, what) {
    const page = this.pages.find((p) => p.html.includes(text));
    if (page) throw new ScenarioError(`${what} appeared in the page at ${page.url}`);
  }
}

// Runs a scenario and reports; the process exits with 0 (passed) or 1 (failed).
export async function run(name, scenario) {
  const started = Date.now();
  let browser;
  let harness;
  let report;
  try {
    browser = await chromium.launch({
      executablePath: process.env.TESSERA_CHROMIUM || '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
    });
    harness = new Harness(name, browser);
    await scenario(harness);
    report = {
      ok: true,
      scenario: name,
      steps: harness.steps,
      results: harness.results,
      console_errors: harness.consoleErrors,
      ms: Date.now() - started,
    };
  } catch (error) {
    const session = harness?.sessions.at(-1);
    let html = '';
    try {
      html = session ? (await session.page.content()).slice(0, 6000) : '';
    } catch {
      // The page may be gone; the error says enough.
    }
    report = {
      ok: false,
      scenario: name,
      failed_step: harness?.current ?? '(launch)',
      error: String(error?.stack || error),
      url: session?.page.url() ?? null,
      status: session?.status() ?? null,
      html,
      steps: harness?.steps ?? [],
      console_errors: harness?.consoleErrors ?? [],
    };
  } finally {
    await browser?.close().catch(() => {});
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}
