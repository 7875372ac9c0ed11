import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance } from '../model/index.js';
import type { ServiceProgress } from './convergence.js';
import { createPalette } from './palette.js';
import { ProgressView } from './progress-view.js';
import { instance, service } from './testing/fixtures.js';
import { CapturedStream } from './testing/run-cli.js';

const progress = (instances: Instance[], converged = false): ServiceProgress[] => [
  { grid: 'default', name: 'web', goal: 'running', service: service({ deployedGeneration: 1 }), instances, converged },
];

describe('ProgressView when piped', () => {
  it('prints one plain line per instance change and nothing for repeats', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    view.update(progress([instance({ slot: 1, state: 'pending' }), instance({ slot: 2, state: 'starting' })]));
    view.update(progress([instance({ slot: 1, state: 'pending' }), instance({ slot: 2, state: 'running' })]));
    view.update(progress([instance({ slot: 1, state: 'running' }), instance({ slot: 2, state: 'running' })], true));
    view.done();
    assert.equal(out.text, 'web-1 pending\nweb-2 starting\nweb-2 running\nweb-1 running\n');
  });

  it('says why an instance failed', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const failed: Instance = { ...instance({ slot: 1, state: 'failed', desiredState: 'running' }), status: { ...instance({ state: 'failed' }).status, message: 'exited with code 1' } };
    view.update(progress([failed]));
    assert.equal(out.text, 'web-1 failed: exited with code 1\n');
  });

  it('keeps showing a slot that was scaled away, and hides old history', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const history = instance({ slot: 7, state: 'shutdown', id: 'web-7-old' });
    view.update(progress([instance({ slot: 1 }), instance({ slot: 2 }), history]));
    view.update(progress([instance({ slot: 1 }), instance({ slot: 2, state: 'shutdown' }), history]));
    assert.equal(out.text, 'web-1 running\nweb-2 running\nweb-2 shutdown\n');
  });
});

describe('ProgressView on a terminal', () => {
  it('draws one line per slot with its state symbol', () => {
    const out = new CapturedStream({ tty: true });
    const view = new ProgressView({ stdout: out, interactive: true, palette: createPalette(false) });
    view.update(progress([instance({ slot: 1, state: 'pending' }), instance({ slot: 2, state: 'starting' }), instance({ slot: 3 })]));
    view.done();
    assert.match(out.text, /web {2}running {2}1\/1 running, generation 1/);
    assert.match(out.text, /web-1 +web-1-a1b2 +gen 1 +⊝ pending +127\.10\.0\.2/);
    assert.match(out.text, /web-2 +web-2-a1b2 +gen 1 +⊙ starting +127\.10\.0\.3/);
    assert.match(out.text, /web-3 +web-3-a1b2 +gen 1 +⊛ running +127\.10\.0\.4/);
  });

  it('shows a rollout: old and new instance of a slot with their generations, health, the drain and the update status', () => {
    const out = new CapturedStream({ tty: true });
    const view = new ProgressView({ stdout: out, interactive: true, palette: createPalette(false) });
    const svc = service({ generation: 4, deployedGeneration: 4, status: { phase: 'deploying', update: rolloutStatus('updating', 'updating to generation 4: 1/2 updated, 1 starting') } });
    const instances = [
      withHealth(instance({ slot: 1, generation: 4, id: 'web-1-new', createdAt: T1 }), true),
      withDrain(outdated(instance({ slot: 2, generation: 3, id: 'web-2-old', desiredState: 'shutdown' })), 3),
      instance({ slot: 2, generation: 4, id: 'web-2-new', state: 'starting', createdAt: T1 }),
    ];
    view.update([{ grid: 'default', name: 'web', goal: 'running', service: svc, instances, converged: false, rollout: { requestedAt: T0, generation: 4 } }]);
    view.done();
    assert.match(out.text, /\n {2}updating: updating to generation 4: 1\/2 updated, 1 starting\n/);
    assert.match(out.text, /web-1 +web-1-new +gen 4 \(new\) +⊛ running +127\.10\.0\.2 +healthy/);
    assert.match(out.text, /web-2 +web-2-old +gen 3 \(old\) +⊛ running +127\.10\.0\.3 +draining 3 connections/);
    assert.match(out.text, /web-2 +web-2-new +gen 4 \(new\) +⊙ starting/);
    assert.ok(out.text.indexOf('web-2-old') < out.text.indexOf('web-2-new'), 'the old instance of a slot above the new one');
  });
});

describe('ProgressView of a rollout when piped', () => {
  it('prints health, generation and drain changes per instance, and each new update status message', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const at = (update: ReturnType<typeof rolloutStatus>, instances: Instance[]): ServiceProgress[] => [
      { grid: 'default', name: 'web', goal: 'running', service: service({ generation: 4, deployedGeneration: 4, status: { update } }), instances, converged: false, rollout: { requestedAt: T0, generation: 4 } },
    ];
    const old = outdated(instance({ slot: 1, generation: 3, id: 'web-1-old' }));
    view.update(at(rolloutStatus('updating', 'updating to generation 4: 0/1 updated'), [old]));
    view.update(at(rolloutStatus('updating', 'updating to generation 4: 0/1 updated, 1 stopping'), [withDrain({ ...old, desiredState: 'shutdown' }, 2)]));
    view.update(at(rolloutStatus('updating', 'updating to generation 4: 0/1 updated, 1 starting'), [instance({ slot: 1, generation: 4, id: 'web-1-new', state: 'starting', createdAt: T1 })]));
    view.update(at(rolloutStatus('completed', 'update to generation 4 completed: 1/1 instance(s) ready'), [withHealth(instance({ slot: 1, generation: 4, id: 'web-1-new', createdAt: T1 }), true)]));
    assert.deepEqual(out.text.trimEnd().split('\n'), [
      'web-1 running generation 3 (old)',
      'web: updating: updating to generation 4: 0/1 updated',
      'web-1 running generation 3 (old) draining 2 connections',
      'web: updating: updating to generation 4: 0/1 updated, 1 stopping',
      'web-1 starting',
      'web: updating: updating to generation 4: 0/1 updated, 1 starting',
      'web-1 running healthy',
      'web: completed: update to generation 4 completed: 1/1 instance(s) ready',
    ]);
  });
});

const T0 = '2026-11-21T15:00:00.000Z';
const T1 = '2026-11-21T15:00:05.000Z';

function rolloutStatus(state: 'updating' | 'completed', message: string) {
  return { state, generation: 4, requestedAt: T0, fromGeneration: 3, startedAt: T0, message, failedInstances: [], updatedInstances: 0, totalInstances: 2 } as const;
}

/** An instance of the containers deployed before generation 4's (a rollout replaces it). */
function outdated(i: Instance): Instance {
  return { ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => ({ ...c, command: ['node', 'old-server.js'] })) } };
}

function withHealth(i: Instance, ready: boolean): Instance {
  return { ...i, status: { ...i.status, health: { started: true, ready, live: true, probes: [] } } };
}

function withDrain(i: Instance, connections: number): Instance {
  return { ...i, status: { ...i.status, drain: { since: T0, connections } } };
}

describe('ProgressView of a scale', () => {
  it('marks no instance old when the earlier generation runs the deployed containers (a scale replaces nothing)', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const svc = service({ generation: 2, deployedGeneration: 2, status: { phase: 'deploying', update: { ...rolloutStatus('updating', 'updating to generation 2: 1/2 updated, 1 starting'), generation: 2 } } });
    const instances = [instance({ slot: 1, generation: 1, id: 'web-1-kept' }), instance({ slot: 2, generation: 2, id: 'web-2-new', state: 'starting', createdAt: T1 })];
    view.update([{ grid: 'default', name: 'web', goal: 'running', service: svc, instances, converged: false, rollout: { requestedAt: T0, generation: 2 } }]);
    assert.equal(out.text, 'web-1 running\nweb-2 starting\nweb: updating: updating to generation 2: 1/2 updated, 1 starting\n');
  });

  it('marks old and new when the restart generation differs (`service restart`)', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const instances = [instance({ slot: 1, generation: 1, id: 'web-1-was', restartGeneration: -1 }), instance({ slot: 2, generation: 1, id: 'web-2-now' })];
    view.update(progress(instances));
    assert.equal(out.text, 'web-1 running generation 1 (old)\nweb-2 running generation 1 (new)\n');
  });
});

describe('ProgressView: image pulls', () => {
  it('prints each layer of a pull as it changes, as docker pull does', () => {
    const out = new CapturedStream();
    const view = new ProgressView({ stdout: out, interactive: false, palette: createPalette(false) });
    const pulling = (layers: { id: string; status: string; current?: number; total?: number }[]): Instance => {
      const base = instance({ slot: 1, state: 'starting' });
      return { ...base, status: { ...base.status, pull: { image: 'nginx:latest', layers } } };
    };
    view.update(progress([pulling([{ id: 'aaaaaaaaaaaa1111', status: 'Downloading', current: 1_000_000, total: 4_000_000 }, { id: 'bbbbbbbbbbbb', status: 'Waiting' }])]));
    view.update(progress([pulling([{ id: 'aaaaaaaaaaaa1111', status: 'Pull complete' }, { id: 'bbbbbbbbbbbb', status: 'Waiting' }])]));
    assert.equal(
      out.text,
      [
        'web-1 pulling nginx:latest aaaaaaaaaaaa: Downloading 1.0 MB/4.0 MB',
        'web-1 pulling nginx:latest bbbbbbbbbbbb: Waiting',
        'web-1 starting',
        'web-1 pulling nginx:latest aaaaaaaaaaaa: Pull complete',
        '',
      ].join('\n'),
    );
  });
});
