// A clinician fills a pack's form in the browser: prefilled from the record, live BMI and a
// follow-up question appearing as they answer (the browser script, under the page's strict
// CSP), the server refusing an out-of-range weight with the answers kept, then storing the
// corrected form.
//
// Env: TESSERA_BASE_URL, TESSERA_TENANT, TESSERA_FORM, TESSERA_PATIENT (latest weight 64 kg),
// TESSERA_USER / TESSERA_USER_PASSWORD (a local clinician, password already replaced).

import { run } from './harness.js';
import { signInLocal } from './tessera.js';

run('forms_fill', async (h) => {
  const tenant = h.env('TESSERA_TENANT');
  const form = `/t/${tenant}/forms/${h.env('TESSERA_FORM')}?patient=${h.env('TESSERA_PATIENT')}`;
  const s = await h.session('clinician');

  await h.step('sign in and open the form, prefilled', async () => {
    await signInLocal(s, tenant, h.env('TESSERA_USER'), h.env('TESSERA_USER_PASSWORD'), form);
    h.equal(s.status(), 200, 'status');
    h.equal(await s.page.inputValue('#q-weight'), '64', 'the latest weight');
    h.contains(s.header('content-security-policy'), "script-src 'self'", 'a strict CSP');
  });

  await h.step('the script computes BMI and shows follow-up questions live', async () => {
    await s.fill('#q-height', '1.75');
    await s.page.waitForFunction(() => document.querySelector('#q-bmi').value === '20.9');
    const cigarettes = '[data-link-id=cigarettes]';
    h.check(await s.page.$eval(cigarettes, (e) => e.hidden), 'the follow-up starts hidden');
    await s.page.check('input[name=smoker][value=true]');
    await s.page.waitForFunction((sel) => !document.querySelector(sel).hidden, cigarettes);
    h.check(!(await s.page.$eval('#q-cigarettes', (e) => e.disabled)), 'and can be answered');
    await s.page.check('input[name=smoker][value=false]');
    await s.page.waitForFunction((sel) => document.querySelector(sel).hidden, cigarettes);
  });

  await h.step('the server refuses an out-of-range weight, keeping the answers', async () => {
    await s.fill('#q-weight', '999');
    await s.fill('#q-notes', '<b>bold</b> claim');
    await s.submit('button[type=submit]:not([name=_refresh])');
    h.equal(s.status(), 422, 'status');
    h.check(await s.has('#error-summary'), 'an error summary');
    h.contains(await s.text('#q-weight-error'), '300', 'the range is named beside the item');
    h.equal(await s.page.inputValue('#q-notes'), '<b>bold</b> claim', 'the text is kept as typed');
    h.equal(await s.page.inputValue('#q-height'), '1.75', 'other answers are kept');
  });

  await h.step('corrected, it is stored', async () => {
    await s.fill('#q-weight', '70');
    await s.submit('button[type=submit]:not([name=_refresh])');
    h.equal(s.status(), 201, 'status');
    const link = await s.text('main a');
    h.contains(link, 'QuestionnaireResponse/', 'links the stored response');
    h.record('response', link.replace('QuestionnaireResponse/', ''));
  });
  h.neverShown('<b>bold</b>', 'markup from an answer, unescaped');
});
