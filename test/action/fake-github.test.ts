/** The fake GitHub's OpenAPI checks catch real mistakes (so an empty violation list means something). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeGitHub } from './fake-github.js';

let gh: FakeGitHub;
beforeAll(async () => {
  gh = new FakeGitHub();
  await gh.start();
});
afterAll(async () => gh.stop());

const call = (method: string, path: string, body?: unknown) =>
  fetch(gh.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });

it('flags a misspelt body property, a missing required property, an undocumented path and per_page over 100', async () => {
  gh.reset();
  expect((await call('POST', '/repos/o/r/issues/1/comments', { body: 'ok' })).status).toBe(201);
  expect(gh.violations).toEqual([]);
  await call('POST', '/repos/o/r/issues/1/comments', { bdy: 'typo' });
  await call('PATCH', '/repos/o/r/issues/comments/1000', { body: 42 });
  expect((await call('GET', '/repos/o/r/issue/1/comments')).status).toBe(404);
  await call('GET', '/repos/o/r/issues/1/comments?per_page=500&pages=2');
  await call('DELETE', '/user');
  const expected = [
    /^POST \/repos\/\{owner\}\/\{repo\}\/issues\/\{issue_number\}\/comments: body .*"missingProperty":"body"/,
    /^POST .*: unknown body property bdy$/,
    /^PATCH .*comments\/\{comment_id\}: body .*must be string/,
    /^fake server response patch .*must be string/, // the fake echoes the bad body, and notices
    /^GET \/repos\/o\/r\/issue\/1\/comments: no such path/,
    /per_page 500 > 100$/,
    /undocumented query parameter pages$/,
    /^fake server response get .*must be string/,
    /^DELETE \/user: \/user has no DELETE operation$/,
  ];
  expect(gh.violations).toHaveLength(expected.length);
  expected.forEach((re, i) => expect(gh.violations[i]).toMatch(re));
});

it('rejects a comment over 65,536 characters with 422 as GitHub does', async () => {
  gh.reset();
  const res = await call('POST', '/repos/o/r/issues/1/comments', { body: 'x'.repeat(65_537) });
  expect(res.status).toBe(422);
  expect(gh.comments.get(1)).toBeUndefined();
});
