// The admin pages end to end, as an organization admin with a local account: sign in with
// the bootstrap admin's one-time password and replace it; enable a pack with consent;
// configuration errors shown beside their fields (a form error, then a schema error from the
// lifecycle) and the input kept; a secret set and never shown back; pin, upgrade (consent to
// new permissions), roll back, a Location override, disable; sign out.
//
// Env: TESSERA_BASE_URL, TESSERA_TENANT, TESSERA_ADMIN_USER, TESSERA_ONE_TIME_PASSWORD,
// TESSERA_NEW_PASSWORD, TESSERA_SECRET, TESSERA_PACK (a pack with versions 1.0.0 and 2.0.0,
// 2.0.0 asking for one more permission; config: greeting ≤ 40 chars, visits integer,
// api-key secret).

import { run } from './harness.js';
import { errors, fieldError } from './tessera.js';

run('admin_packs', async (h) => {
  const tenant = h.env('TESSERA_TENANT');
  const pack = h.env('TESSERA_PACK');
  const user = h.env('TESSERA_ADMIN_USER');
  const oneTime = h.env('TESSERA_ONE_TIME_PASSWORD');
  const newPassword = h.env('TESSERA_NEW_PASSWORD');
  const secret = h.env('TESSERA_SECRET');
  const s = await h.session('admin');
  const packUrl = `/t/${tenant}/admin/packs/${pack}`;

  await h.step('the picker leads to the sign-in page', async () => {
    await s.goto('/admin');
    await s.fill('#tenant', tenant);
    await s.submit('button[type=submit]');
    h.equal(s.path(), `/t/${tenant}/admin/sign-in`, 'not signed in: the sign-in page');
    h.contains(s.page.url(), encodeURIComponent(`/t/${tenant}/admin/packs`), 'it comes back to the packs');
  });

  await h.step('a wrong password is refused on the page', async () => {
    await s.fill('#username', user);
    await s.fill('#password', 'not the password');
    await s.submit('#local-sign-in');
    h.equal(s.status(), 401, 'status');
    h.contains((await errors(s)).join(' '), 'Wrong username or password', 'error summary');
    h.equal(await s.page.inputValue('#username'), user, 'the username is kept');
    h.equal(await s.page.inputValue('#password'), '', 'the password is not');
  });

  await h.step('the one-time password leads to replacing it', async () => {
    await s.fill('#password', oneTime);
    await s.submit('#local-sign-in');
    h.contains(await s.text('h1'), 'Replace your one-time password', 'heading');
    await s.fill('#password', oneTime);
    await s.fill('#new_password', newPassword);
    await s.fill('#confirm_password', `${newPassword}x`);
    await s.submit('#replace-password');
    h.equal(s.status(), 400, 'mismatch refused');
    h.contains(await fieldError(s, 'confirm_password'), 'same new password twice', 'beside the field');
    h.check((await s.page.getAttribute('.error-summary a', 'href')) === '#confirm_password', 'the summary links to the field');
    await s.fill('#password', oneTime);
    await s.fill('#new_password', newPassword);
    await s.fill('#confirm_password', newPassword);
    await s.submit('#replace-password');
    h.equal(s.path(), `/t/${tenant}/admin/packs`, 'signed in, on the packs list');
    h.equal(await s.text('#signed-in-as'), user, 'who is signed in');
  });

  await h.step('pages are sent with a strict policy', async () => {
    const csp = s.header('content-security-policy') ?? '';
    h.contains(csp, "default-src 'self'", 'CSP');
    h.check(!csp.includes('unsafe-inline'), `no unsafe-inline: ${csp}`);
    h.equal(s.header('x-frame-options'), 'DENY', 'X-Frame-Options');
    h.equal(s.header('cache-control'), 'no-store', 'Cache-Control');
    h.equal(await s.page.$$eval('script', (x) => x.length), 0, 'no scripts');
  });

  await h.step('the list shows the pack, not enabled', async () => {
    h.equal(await s.page.getAttribute(`#pack-${pack}`, 'data-state'), 'not-enabled', 'state');
    h.contains(await s.text(`#pack-${pack}`), '1.0.0, 2.0.0', 'installed versions');
    await s.submit(`#pack-${pack} a`);
    h.equal(s.path(), packUrl, 'the pack page');
    h.contains(await s.text('#state'), 'Not enabled', 'state');
    h.contains(await s.text('main'), 'feature:' + pack, 'what it asks for');
    h.contains(await s.text('main'), '/hello/{name}', 'what it registers');
  });

  await h.step('enable version 1.0.0: without consent, refused', async () => {
    await s.submit('#enable');
    await s.page.selectOption('#choose-version', '1.0.0');
    await s.submit('form.inline-form button');
    h.contains(await s.text('h1'), '1.0.0', 'the form of 1.0.0');
    h.check(await s.has('#consent-0'), 'consent boxes are shown');
    await s.fill('#config-greeting', 'Howdy');
    await s.submit('#save');
    h.equal(s.status(), 403, 'refused without consent');
    h.contains(await fieldError(s, 'consent'), 'Tick every permission', 'beside the consent boxes');
    h.equal(await s.page.inputValue('#config-greeting'), 'Howdy', 'input kept');
  });

  await h.step('a number that is not a number is shown beside its field', async () => {
    for (const box of await s.page.$$('input[name=consent]')) await box.check();
    await s.fill('#config-visits', 'twelve');
    await s.submit('#save');
    h.equal(s.status(), 400, 'status');
    h.contains(await fieldError(s, 'config-visits'), 'whole number', 'beside the field');
    h.equal(await s.page.inputValue('#config-visits'), 'twelve', 'input kept');
    h.check(await s.page.isChecked('#consent-0'), 'consent kept');
  });

  await h.step('a schema error from the lifecycle is shown beside its field', async () => {
    await s.fill('#config-visits', '12');
    const long = 'Howdy, partner, and welcome to the clinic today!';
    await s.fill('#config-greeting', long);
    await s.fill('#config-api-key', secret);
    await s.submit('#save');
    h.equal(s.status(), 400, 'status');
    h.contains(await fieldError(s, 'config-greeting'), 'longer than 40 characters', 'beside the field');
    h.equal(await s.page.getAttribute('.error-summary a', 'href'), '#config-greeting', 'summary link');
    h.equal(await s.page.inputValue('#config-greeting'), long, 'input kept');
    h.equal(await s.page.inputValue('#config-api-key'), '', 'a secret is never put back into the page');
  });

  await h.step('fixed, the pack is enabled with its secret', async () => {
    await s.fill('#config-greeting', 'Howdy');
    await s.fill('#config-api-key', secret);
    await s.submit('#save');
    h.equal(s.path(), packUrl, 'back on the pack page (POST-redirect-GET)');
    h.contains(await s.text('.notice'), 'enabled at 1.0.0', 'notice');
    h.contains(await s.text('#state'), 'Enabled', 'state');
    h.contains(await s.text('#config'), 'Howdy', 'configuration shown');
    h.contains(await s.text('#secrets'), 'api-key', 'secret listed');
    h.equal(await s.text('#secrets dd'), 'set', 'secret only as "set"');
  });

  await h.step('configure again: the secret shows as set, never its value', async () => {
    await s.submit('#configure');
    h.contains(await s.text('[data-field=api-key] .secret-state'), 'set', 'set');
    h.equal(await s.page.inputValue('#config-api-key'), '', 'empty input');
    h.check(await s.has('#config-api-key-clear'), 'a clear option');
    h.check(!(await s.has('#consent-0')), 'no consent asked again for the same permissions');
    await s.page.check('#config-loud-true');
    await s.submit('#save');
    h.contains(await s.text('.notice'), 'settings are saved', 'saved');
    h.contains(await s.text('#config'), 'true', 'the yes/no field saved');
    h.equal(await s.text('#secrets dd'), 'set', 'the secret kept when left empty');
  });

  await h.step('pin', async () => {
    await s.submit('#pin');
    h.contains(await s.text('.notice'), 'pinned at 1.0.0', 'notice');
    h.check(await s.has('#pinned'), 'pinned tag');
  });

  await h.step('upgrade to the latest while pinned is refused with the reason', async () => {
    await s.page.selectOption('#upgrade-version', '');
    await s.submit('#upgrade');
    h.contains(await s.text('main'), 'is pinned', 'the page warns');
    for (const box of await s.page.$$('input[name=consent]')) await box.check();
    await s.submit('#confirm-upgrade');
    h.equal(s.status(), 409, 'status');
    h.contains((await errors(s)).join(' '), 'pinned at 1.0.0', 'the lifecycle says why');
  });

  await h.step('upgrade to 2.0.0 needs consent to its new permission', async () => {
    await s.goto(`${packUrl}/upgrade?version=2.0.0`);
    h.contains(await s.text('#permissions-added'), 'Outbound HTTP to https://api.example.org', 'what is new');
    await s.submit('#confirm-upgrade');
    h.equal(s.status(), 403, 'refused without consent');
    h.contains(await fieldError(s, 'consent'), 'Tick every permission', 'beside the boxes');
    for (const box of await s.page.$$('input[name=consent]')) await box.check();
    await s.submit('#confirm-upgrade');
    h.equal(s.path(), packUrl, 'back on the pack page');
    h.contains(await s.text('.notice'), 'now runs 2.0.0', 'notice');
    h.equal(await s.text('#version'), '2.0.0', 'version');
    h.equal(await s.text('#previous-version'), '1.0.0', 'previous version');
    h.equal(await s.text('#secrets dd'), 'set', 'the secret survives the upgrade');
  });

  await h.step('roll back', async () => {
    await s.submit('#rollback');
    h.contains(await s.text('.notice'), 'rolled back to 1.0.0', 'notice');
    h.equal(await s.text('#version'), '1.0.0', 'version');
    h.check(await s.has('#pinned'), 'pinned after a roll back');
  });

  await h.step('a Location override: an invalid id, then set and delete', async () => {
    await s.fill('#location-id', 'ward 1/../x');
    await s.submit('#edit-location');
    h.equal(s.status(), 400, 'status');
    h.contains(await fieldError(s, 'location-id'), 'not a Location id', 'beside the field');
    await s.fill('#location-id', 'ward-1');
    await s.submit('#edit-location');
    h.equal(s.path(), `${packUrl}/locations/ward-1`, 'the override form');
    await s.page.check('#location-disabled');
    await s.fill('#config-greeting', 'This greeting is far too long for the schema of the pack');
    await s.submit('#save-location');
    h.equal(s.status(), 400, 'schema error at the Location');
    h.contains(await fieldError(s, 'config-greeting'), 'longer than 40', 'beside the field');
    await s.fill('#config-greeting', 'Ward hello');
    await s.submit('#save-location');
    h.contains(await s.text('.notice'), 'override is saved', 'saved');
    h.contains(await s.text('#location-ward-1'), 'Disabled', 'listed as disabled there');
    h.contains(await s.text('#location-ward-1'), 'greeting = Ward hello', 'with its key');
    await s.submit('#location-ward-1 button');
    h.contains(await s.text('.notice'), 'override is deleted', 'deleted');
    h.check(!(await s.has('#location-ward-1')), 'gone');
  });

  await h.step('disable', async () => {
    await s.submit('#disable');
    h.contains(await s.text('.notice'), 'is disabled', 'notice');
    h.contains(await s.text('#state'), 'Disabled', 'state');
    await s.goto(`/t/${tenant}/admin/packs`);
    h.equal(await s.page.getAttribute(`#pack-${pack}`, 'data-state'), 'disabled', 'listed as disabled');
  });

  await h.step('remove asks first', async () => {
    await s.goto(packUrl);
    await s.submit('#remove');
    h.contains(await s.text('h1'), 'Remove', 'a confirmation page');
    await s.submit('.cancel');
    h.equal(s.path(), packUrl, 'cancel goes back, nothing removed');
    h.contains(await s.text('#state'), 'Disabled', 'still there');
  });

  await h.step('no secret or password was ever in a page', async () => {
    h.neverShown(secret, 'the pack secret');
    h.neverShown(newPassword, 'the new password');
    h.neverShown(oneTime, 'the one-time password');
    h.equal(h.consoleErrors.length, 0, `no console errors or CSP violations: ${h.consoleErrors.join('; ')}`);
  });

  await h.step('sign out', async () => {
    await s.submit('.sign-out button');
    h.contains(await s.text('body'), 'You are signed out', 'signed out');
    await s.goto(`/t/${tenant}/admin/packs`);
    h.equal(s.path(), `/t/${tenant}/admin/sign-in`, 'the session is gone');
  });
  h.record('pages_seen', h.pages.length);
});
