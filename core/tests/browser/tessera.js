// Tessera-specific steps that browser scenarios share: signing in with a local account or
// through the organization's OpenID provider. The session cookie is scoped to /t/{tenant}/,
// so a session made here serves every page of that tenant (admin pages, forms, ...).

// Signs in at /t/{tenant}/admin/sign-in with a local account whose password is not
// one-time; resolves once the browser has landed where the sign-in sends it.
export async function signInLocal(s, tenant, username, password, returnTo = `/t/${tenant}/admin/packs`) {
  await s.goto(`/t/${tenant}/admin/sign-in?return_to=${encodeURIComponent(returnTo)}`);
  await s.fill('#username', username);
  await s.fill('#password', password);
  return s.submit('#local-sign-in');
}

// Signs in through the provider's login form (core/tests/oidc/server.js: any non-empty
// password works for its users).
export async function signInWithProvider(s, tenant, username, returnTo = `/t/${tenant}/admin/packs`) {
  await s.goto(`/t/${tenant}/admin/sign-in?return_to=${encodeURIComponent(returnTo)}`);
  await s.submit('#provider-sign-in');
  await s.page.waitForSelector('#kc-form-login');
  await s.fill('#kc-form-login input[name=username]', username);
  await s.fill('#kc-form-login input[name=password]', 'pw');
  return s.submit('#kc-form-login button[type=submit]');
}

// The error summary's lines, and the message shown beside field `id`.
export async function errors(s) {
  return s.page.$$eval('.error-summary li', (items) => items.map((i) => i.textContent.trim()));
}

export async function fieldError(s, id) {
  const el = await s.page.$(`#${id}-error`);
  return el ? (await el.textContent()).replace(/^Error:\s*/, '').trim() : null;
}
