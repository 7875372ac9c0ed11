import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import type { SpecFlags } from './spec-flags.js';
import { addSpecOptions, mergeSpecFlags, specFromFlags } from './spec-flags.js';
import { parseMountFlag } from './mount-flag.js';
import { serviceSpec } from './testing/fixtures.js';

/** Parses flags exactly as `service create|update` does. */
function flags(which: 'create' | 'update', args: string[]): SpecFlags {
  const command = addSpecOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }), which);
  command.parse(args, { from: 'user' });
  return command.opts<SpecFlags>();
}

const MiB = 1024 * 1024;

describe('parseMountFlag (Docker\'s --mount syntax)', () => {
  const cases: [string, ReturnType<typeof parseMountFlag>][] = [
    ['type=bind,source=/srv/site,target=/usr/share/nginx/html,readonly', { type: 'bind', source: '/srv/site', target: '/usr/share/nginx/html', readOnly: true }],
    ['type=bind,src=/a,dst=/b,ro=false', { type: 'bind', source: '/a', target: '/b', readOnly: false }],
    ['source=cache,target=/cache', { type: 'volume', source: 'cache', target: '/cache', readOnly: false }],
    ['type=volume,destination=/data,readonly=1', { type: 'volume', target: '/data', readOnly: true }],
    ['type=tmpfs,target=/tmp,tmpfs-size=64m', { type: 'tmpfs', target: '/tmp', readOnly: false, tmpfsSize: 64 * MiB }],
    ['type=bind,"source=/srv/a,b",target=/x', { type: 'bind', source: '/srv/a,b', target: '/x', readOnly: false }],
  ];
  for (const [value, mount] of cases) {
    it(`reads ${value}`, () => assert.deepEqual(parseMountFlag(value), mount));
  }

  const refused: [string, RegExp][] = [
    ['type=bind,source=/a', /target is required/],
    ['type=nfs,target=/a', /type must be bind, volume or tmpfs, not "nfs"/],
    ['target=/a,bind-propagation=rshared', /does not support the mount option bind-propagation/],
    ['target=/a,colour=red', /unknown field "colour"/],
    ['target=/a,readonly=maybe', /readonly must be true or false/],
    ['type=tmpfs,target=/a,tmpfs-size=huge', /tmpfs-size must be a number of bytes or a size/],
    ['target=', /"target" needs a value/],
    ['type=bind,"source=/a,target=/b', /unterminated quote/],
  ];
  for (const [value, says] of refused) {
    it(`refuses ${value}`, () => assert.throws(() => parseMountFlag(value), says));
  }
});

describe('container flags → spec', () => {
  it('maps every container flag onto its spec field', () => {
    const parsed = flags('create', [
      '--image-pull-policy', 'Never', '--hostname', 'web-1', '--container-label', 'com.example.tier=front', '--container-label', 'team=a',
      '--mount', 'type=bind,source=/srv/site,target=/site,readonly', '--mount', 'type=tmpfs,target=/tmp,tmpfs-size=1m',
      '--cpus', '1.5', '--memory', '256Mi', '--reserve-cpu', '500m', '--reserve-memory', '64m',
    ]);
    const { spec } = specFromFlags({ name: 'web', image: 'nginx:1.27' }, parsed, { cwd: '/' });
    assert.deepEqual(spec.containers[0], {
      image: 'nginx:1.27',
      imagePullPolicy: 'Never',
      hostname: 'web-1',
      labels: { 'com.example.tier': 'front', team: 'a' },
      mounts: [
        { type: 'bind', source: '/srv/site', target: '/site', readOnly: true },
        { type: 'tmpfs', target: '/tmp', readOnly: false, tmpfsSize: MiB },
      ],
      resources: { limits: { cpus: 1.5, memory: 256 * MiB }, reservations: { cpus: 0.5, memory: 64 * MiB } },
    });
  });

  it('takes docker service create\'s --limit-cpu and --limit-memory as --cpus and --memory, but not both at once', () => {
    const { spec } = specFromFlags({ name: 'web', image: 'nginx' }, flags('create', ['--limit-cpu', '2', '--limit-memory', '1G']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.resources, { limits: { cpus: 2, memory: 1024 * MiB } });
    assert.throws(() => specFromFlags({ name: 'web', image: 'nginx' }, flags('create', ['--cpus', '1', '--limit-cpu', '2']), { cwd: '/' }), /--cpus and --limit-cpu are the same limit: give one of them/);
  });

  it('refuses image-only flags for a process, naming them; container labels are fine', () => {
    assert.throws(
      () => specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--mount', 'target=/x', '--memory', '1G']), { cwd: '/' }),
      /--mount, --memory apply to a container with an image \(the docker driver enforces them\); give an IMAGE/,
    );
    assert.deepEqual(specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--container-label', 'a=b']), { cwd: '/' }).spec.containers[0]?.labels, { a: 'b' });
    assert.throws(() => specFromFlags({ name: 'db' }, flags('create', ['--endpoint', '127.0.0.5', '--hostname', 'h']), { cwd: '/' }), /--hostname need a container/);
  });

  const badValues: [string[], RegExp][] = [
    [['--image-pull-policy', 'sometimes'], /option '--image-pull-policy <policy>' argument 'sometimes' is invalid\. Allowed choices are IfNotPresent, Always, Never/],
    [['--hostname', 'Web_1'], /option '--hostname <name>' argument 'Web_1' is invalid.*RFC 1123 label/],
    [['--container-label', 'novalue'], /option '--container-label <key=value>' argument 'novalue' is invalid/],
    [['--mount', 'type=bind'], /option '--mount .*' argument 'type=bind' is invalid.*target is required/],
    [['--cpus', 'lots'], /option '--cpus <cpus>' argument 'lots' is invalid.*at most 3 decimals/],
    [['--cpus', '2000'], /option '--cpus <cpus>' argument '2000' is invalid/],
    [['--limit-cpu', '-1'], /option '--limit-cpu <cpus>' argument '-1' is invalid/],
    [['--memory', '1 gigabyte'], /option '--memory <size>' argument '1 gigabyte' is invalid.*256Mi, 512m, 1G or 1Gi/],
    [['--reserve-memory', 'x'], /option '--reserve-memory <size>' argument 'x' is invalid/],
    [['--reserve-cpu', '0.0001'], /option '--reserve-cpu <cpus>' argument '0\.0001' is invalid/],
  ];
  for (const [args, message] of badValues) {
    it(`names the flag in the error for ${args.join(' ')}`, () => assert.throws(() => flags('create', args), message));
  }

  it('has --mount-rm, --mount-add and --container-label-rm on update only', () => {
    assert.throws(() => flags('create', ['--mount-rm', '/x']), /unknown option '--mount-rm'/);
    assert.throws(() => flags('update', ['--mount-rm', 'relative']), /option '--mount-rm <target>' argument 'relative' is invalid/);
  });
});

describe('container flags merged into the current spec (update)', () => {
  const current = serviceSpec({
    containers: [{
      name: 'web', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent', args: [], env: [], ports: [], stopSignal: 'SIGTERM', stopGracePeriod: '10s',
      labels: { team: 'a', tier: 'front' },
      mounts: [{ type: 'volume', source: 'cache', target: '/cache', readOnly: false }, { type: 'tmpfs', target: '/tmp', readOnly: false }],
      resources: { limits: { cpus: 1, memory: 256 * MiB }, reservations: { cpus: 0.5 } },
    }],
  });
  const merged = (args: string[]) => mergeSpecFlags(current, flags('update', args), { cwd: '/' }).spec.containers[0];

  it('adds a mount, replaces the one at the same target, and removes one with --mount-rm (as docker service update)', () => {
    const c = merged(['--mount', 'type=bind,source=/srv/c,target=/cache/', '--mount-add', 'type=tmpfs,target=/run', '--mount-rm', '/tmp']);
    assert.deepEqual(c?.mounts, [
      { type: 'bind', source: '/srv/c', target: '/cache/', readOnly: false },
      { type: 'tmpfs', target: '/run', readOnly: false },
    ]);
    assert.throws(() => merged(['--mount-rm', '/nowhere']), /--mount-rm \/nowhere: the container has no mount at this target/);
  });

  it('sets and removes container labels by key, keeping the rest', () => {
    assert.deepEqual(merged(['--container-label', 'tier=back', '--container-label-rm', 'team'])?.labels, { tier: 'back' });
  });

  it('changes a limit or reservation by name, and 0 removes it (docker service update\'s 0)', () => {
    assert.deepEqual(merged(['--memory', '512Mi'])?.resources, { limits: { cpus: 1, memory: 512 * MiB }, reservations: { cpus: 0.5 } });
    assert.deepEqual(merged(['--cpus', '0', '--reserve-cpu', '0'])?.resources, { limits: { memory: 256 * MiB } });
    assert.deepEqual(merged(['--limit-memory', '0', '--cpus', '0', '--reserve-cpu', '0'])?.resources, {});
  });

  it('keeps every docker field when other flags change', () => {
    const c = merged(['-e', 'A=1']);
    assert.deepEqual([c?.labels, c?.mounts, c?.resources, c?.imagePullPolicy], [current.containers[0]?.labels, current.containers[0]?.mounts, current.containers[0]?.resources, 'IfNotPresent']);
    assert.equal(merged(['--image-pull-policy', 'Always', '--hostname', 'h2'])?.imagePullPolicy, 'Always');
  });

  it('refuses image-only flags for a process service unless --image comes too', () => {
    const proc = serviceSpec();
    assert.throws(() => mergeSpecFlags(proc, flags('update', ['--cpus', '1']), { cwd: '/' }), /--cpus apply to a container with an image .*give --image/);
    assert.deepEqual(mergeSpecFlags(proc, flags('update', ['--image', 'busybox:local', '--cpus', '1']), { cwd: '/' }).spec.containers[0]?.resources, { limits: { cpus: 1 } });
  });
});
