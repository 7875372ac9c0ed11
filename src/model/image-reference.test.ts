import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageReferenceProblem, parseImageReference } from './image-reference.js';

const DIGEST = `sha256:${'a1'.repeat(32)}`;

describe('parseImageReference', () => {
  const cases: [string, ReturnType<typeof parseImageReference>][] = [
    ['nginx', { name: 'nginx', path: 'nginx' }],
    ['nginx:latest', { name: 'nginx', path: 'nginx', tag: 'latest' }],
    ['busybox:local', { name: 'busybox', path: 'busybox', tag: 'local' }],
    ['library/redis:7.2-alpine', { name: 'library/redis', path: 'library/redis', tag: '7.2-alpine' }],
    ['127.0.0.1:5000/team/app:v2', { name: '127.0.0.1:5000/team/app', domain: '127.0.0.1:5000', path: 'team/app', tag: 'v2' }],
    ['localhost/app', { name: 'localhost/app', domain: 'localhost', path: 'app' }],
    ['registry.example.org/a_b/c__d/e-f.g', { name: 'registry.example.org/a_b/c__d/e-f.g', domain: 'registry.example.org', path: 'a_b/c__d/e-f.g' }],
    [`busybox@${DIGEST}`, { name: 'busybox', path: 'busybox', digest: DIGEST }],
    [`ghcr.io/o/app:1.0@${DIGEST}`, { name: 'ghcr.io/o/app', domain: 'ghcr.io', path: 'o/app', tag: '1.0', digest: DIGEST }],
    ['Example.org:443/app', { name: 'Example.org:443/app', domain: 'Example.org:443', path: 'app' }],
  ];
  for (const [ref, parts] of cases) {
    it(`reads ${ref} as Docker does`, () => assert.deepEqual(parseImageReference(ref), parts));
  }

  const refused: [string, RegExp][] = [
    ['Nginx:1.27', /repository name must be lowercase \(nginx:1\.27\)/],
    ['team/App', /repository name must be lowercase \(team\/app\)/],
    ['127.0.0.1:5000/Team/app', /must be lowercase \(127\.0\.0\.1:5000\/team\/app\)/],
    ['nginx latest', /white space/],
    ['nginx:', /invalid reference format/],
    [':1.0', /invalid reference format/],
    ['-nginx', /invalid reference format/],
    ['nginx:-x', /invalid reference format/],
    [`nginx:${'t'.repeat(129)}`, /invalid reference format/],
    ['a//b', /invalid reference format/],
    ['nginx@sha256:abc', /invalid reference format/],
    [`nginx@sha256:${'A1'.repeat(32)}`, /64 lower-case hexadecimal digits/],
    [`nginx@sha256:${'a'.repeat(65)}`, /64 lower-case hexadecimal digits/],
    [`r.io/${'a'.repeat(251)}`, /not be more than 255 characters/],
  ];
  for (const [ref, says] of refused) {
    it(`refuses ${ref.length > 40 ? `${ref.slice(0, 40)}…` : ref} and shows how a reference looks`, () => {
      const problem = imageReferenceProblem(ref);
      assert.match(problem ?? '', says);
      if (!/255|hexadecimal/.test(says.source)) assert.match(problem ?? '', /e\.g\. nginx:1\.27, 127\.0\.0\.1:5000\/team\/app:v2/);
    });
  }

  it('has no problem with a valid reference', () => assert.equal(imageReferenceProblem('nginx:1.27'), undefined));
});
