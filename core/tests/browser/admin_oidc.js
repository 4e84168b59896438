// Signing in to the admin pages through the organization's OpenID provider (the test
// provider in core/tests/oidc/, Keycloak-shaped): an org-admin gets in and signs out
// through the provider; a clinician gets the 403 page.
//
// Env: TESSERA_BASE_URL, TESSERA_TENANT, TESSERA_OIDC_ADMIN (a provider user holding
// org-admin), TESSERA_OIDC_USER (one who does not).

import { run } from './harness.js';
import { signInWithProvider } from './tessera.js';

run('admin_oidc', async (h) => {
  const tenant = h.env('TESSERA_TENANT');
  const admin = h.env('TESSERA_OIDC_ADMIN');

  await h.step('an org-admin signs in through the provider', async () => {
    const s = await h.session('provider admin');
    await s.goto(`/t/${tenant}/admin/packs`);
    h.equal(s.path(), `/t/${tenant}/admin/sign-in`, 'sent to sign in');
    await signInWithProvider(s, tenant, admin);
    h.equal(s.path(), `/t/${tenant}/admin/packs`, 'back on the packs list');
    h.equal(await s.text('h1'), 'Packs', 'heading');
    h.equal(await s.text('#signed-in-as'), admin, 'who is signed in');
    h.record('provider_origin', new URL(h.env('TESSERA_PROVIDER')).origin);
  });

  await h.step('signing out ends the session here and at the provider', async () => {
    const s = h.sessions[0];
    await s.submit('.sign-out button');
    h.contains(await s.text('body'), 'You are signed out', 'signed out');
    h.equal(h.consoleErrors.length, 0, `no CSP violation on the way: ${h.consoleErrors.join('; ')}`);
    await s.goto(`/t/${tenant}/admin/packs`);
    h.equal(s.path(), `/t/${tenant}/admin/sign-in`, 'the session is gone');
  });

  await h.step('a provider user without org-admin gets the 403 page', async () => {
    const s = await h.session('provider clinician');
    await signInWithProvider(s, tenant, h.env('TESSERA_OIDC_USER'));
    h.equal(s.status(), 403, 'status');
    h.contains(await s.text('h1'), 'Only organization admins', 'heading');
  });
});
