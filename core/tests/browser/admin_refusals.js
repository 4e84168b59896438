// What the admin pages refuse: a signed-in user without the org-admin role gets a clear 403
// page; a state-changing post without the session's CSRF token (or with a forged one) is
// refused and changes nothing; a sign-in form not issued to this browser is refused.
//
// Env: TESSERA_BASE_URL, TESSERA_TENANT, TESSERA_PACK (enabled, not pinned),
// TESSERA_USER / TESSERA_USER_PASSWORD (a local account without org-admin),
// TESSERA_ADMIN_USER / TESSERA_ADMIN_PASSWORD (an org-admin, password already replaced).

import { run } from './harness.js';
import { signInLocal } from './tessera.js';

run('admin_refusals', async (h) => {
  const tenant = h.env('TESSERA_TENANT');
  const pack = h.env('TESSERA_PACK');
  const packUrl = `/t/${tenant}/admin/packs/${pack}`;

  await h.step('a user without org-admin gets a 403 page that says why', async () => {
    const s = await h.session('nurse');
    await signInLocal(s, tenant, h.env('TESSERA_USER'), h.env('TESSERA_USER_PASSWORD'));
    h.equal(s.status(), 403, 'status');
    h.contains(await s.text('h1'), 'Only organization admins', 'heading');
    h.contains(await s.text('main'), h.env('TESSERA_USER'), 'names who is signed in');
    h.check(await s.has('.sign-out button'), 'offers to sign out');
    await s.goto(packUrl);
    h.equal(s.status(), 403, 'every page refuses');
    const post = await s.post(`${packUrl}/disable`, { _csrf: 'whatever' });
    h.equal(post.status, 403, 'and every action');
  });

  await h.step('posts without the session\'s CSRF token are refused', async () => {
    const s = await h.session('admin');
    await signInLocal(s, tenant, h.env('TESSERA_ADMIN_USER'), h.env('TESSERA_ADMIN_PASSWORD'));
    h.equal(s.path(), `/t/${tenant}/admin/packs`, 'the admin is in');
    const none = await s.post(`${packUrl}/pin`, { pinned: 'true' });
    h.equal(none.status, 403, 'no token');
    h.contains(none.text, 'CSRF', 'the page says why');
    const forged = await s.post(`${packUrl}/pin`, { pinned: 'true', _csrf: 'forged-token' });
    h.equal(forged.status, 403, 'a forged token');
    const disable = await s.post(`${packUrl}/disable`, {});
    h.equal(disable.status, 403, 'disable without a token');
    await s.goto(packUrl);
    h.contains(await s.text('#state'), 'Enabled', 'nothing was disabled');
    h.check(!(await s.has('#pinned')), 'nothing was pinned');
    // The same post from the page's own form works.
    await s.submit('#pin');
    h.check(await s.has('#pinned'), 'the form with its token pins');
    h.record('pinned_by_form', true);
  });

  await h.step('a sign-in post not made from this browser\'s form is refused', async () => {
    const s = await h.session('stranger');
    const post = await s.post(`/t/${tenant}/admin/sign-in`, {
      username: h.env('TESSERA_ADMIN_USER'),
      password: h.env('TESSERA_ADMIN_PASSWORD'),
      _csrf: 'made-up',
    });
    h.equal(post.status, 403, 'login CSRF refused');
    h.check(!('set-cookie' in post.headers) || !post.headers['set-cookie'].includes('tessera_session='), 'no session');
  });

  await h.step('bearer tokens are not sessions here', async () => {
    const s = await h.session('script');
    const response = await s.context.request.get(`${h.base}${packUrl}`, {
      headers: { authorization: 'Bearer abc' },
      maxRedirects: 0,
    });
    h.equal(response.status(), 401, 'status');
  });
});
