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
    assert.match(out.text, /web-1 +⊝ pending +127\.10\.0\.2/);
    assert.match(out.text, /web-2 +⊙ starting +127\.10\.0\.3/);
    assert.match(out.text, /web-3 +⊛ running +127\.10\.0\.4/);
  });
});
