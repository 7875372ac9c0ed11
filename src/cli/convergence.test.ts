import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../client/index.js';
import type { Service } from '../model/index.js';
import { isConverged, notConvergedBecause, waitForConvergence } from './convergence.js';
import { instance, service } from './testing/fixtures.js';
import { StubApi } from './testing/stub-api.js';

const deployed = (over: Partial<Service['status']> = {}, generation = 2): Service =>
  service({ generation, deployedGeneration: generation, spec: { replicas: 2 }, status: { observedGeneration: generation, ...over } });

describe('isConverged', () => {
  const running = [instance({ slot: 1, generation: 2 }), instance({ slot: 2, generation: 2 })];
  const cases: [string, boolean, () => boolean][] = [
    ['running: phase running with every instance on the deployed generation', true, () => isConverged('running', deployed(), running)],
    ['running: not while the controllers have not observed the deployed generation', false, () => isConverged('running', deployed({ observedGeneration: 1 }), running)],
    ['running: not while fewer instances run than desired', false, () => isConverged('running', deployed({ runningInstances: 1 }), running)],
    ['running: not while the phase is deploying', false, () => isConverged('running', deployed({ phase: 'deploying' }), running)],
    ['running: not before the first deploy', false, () => isConverged('running', service(), [])],
    ['running: not while an instance meant to run is still starting', false, () => isConverged('running', deployed(), [running[0]!, instance({ slot: 2, generation: 2, state: 'starting' })])],
    ['running: not while an instance of an older restart generation runs (restart just asked)', false, () => {
      const s = deployed();
      const restarted: Service = { ...s, deployment: { ...s.deployment!, restartGeneration: 1 } };
      return isConverged('running', restarted, running);
    }],
    ['running: instances kept from an older generation count (a replicas-only change replaces nothing)', true, () => isConverged('running', deployed(), [instance({ slot: 1, generation: 1 }), instance({ slot: 2, generation: 2 })])],
    ['running: old instances being shut down do not count', true, () => isConverged('running', deployed(), [...running, instance({ slot: 3, generation: 1, desiredState: 'shutdown' })])],
    ['stopped: phase stopped and every instance gone', true, () => isConverged('stopped', deployed({ phase: 'stopped' }), [instance({ state: 'shutdown' })])],
    ['stopped: not while an instance still runs', false, () => isConverged('stopped', deployed({ phase: 'stopped' }), [instance({ state: 'running', desiredState: 'shutdown' })])],
    ['removed: once the service is gone', true, () => isConverged('removed', null, [])],
    ['removed: not while it exists', false, () => isConverged('removed', deployed({ phase: 'removing' }), [])],
  ];
  for (const [name, expected, check] of cases) it(name, () => assert.equal(check(), expected));

  it('says why it is not converged', () => {
    assert.equal(notConvergedBecause('running', deployed({ observedGeneration: 1 }), running), 'the controllers have not taken up generation 2 yet (at 1)');
    assert.equal(notConvergedBecause('running', deployed({ phase: 'deploying', runningInstances: 1, message: '1/2 running; web-2 restarting in 4s' }), running), 'deploying, 1/2 running; web-2 restarting in 4s');
    assert.equal(notConvergedBecause('stopped', deployed({ phase: 'stopped' }), [instance({ desiredState: 'shutdown' })]), '1 instance(s) still stopping');
  });
});

describe('waitForConvergence against a server', () => {
  const stub = new StubApi();
  let client: BerthClient;
  before(async () => {
    client = new BerthClient({ baseUrl: await stub.start() });
  });
  after(() => stub.stop());

  it('follows the watch until the deploy converges, reporting progress on the way', async () => {
    stub.seed(service({ spec: { name: 'web', replicas: 2 } }));
    await client.deploy('default', 'web');
    const seen: string[] = [];
    const [done] = await waitForConvergence(client, [{ grid: 'default', name: 'web', goal: 'running' }], {
      timeoutMs: 5000,
      pollMs: 60_000, // only the watch can bring the news in time
      onProgress: (p) => seen.push(p[0]?.service?.status.phase ?? 'gone'),
    });
    assert.equal(done?.converged, true);
    assert.equal(done?.service?.status.runningInstances, 2);
    assert.equal(seen[seen.length - 1], 'running');
  });

  it('fails after the timeout naming what is missing', async () => {
    stub.converges = false;
    try {
      stub.seed(service({ spec: { name: 'slow', replicas: 2 } }));
      await client.deploy('default', 'slow');
      await assert.rejects(
        waitForConvergence(client, [{ grid: 'default', name: 'slow', goal: 'running' }], { timeoutMs: 100 }),
        /timed out after 100ms waiting for slow to be running \(deploying, 0\/2 running\)/,
      );
    } finally {
      stub.converges = true;
    }
  });

  it('stops waiting when its signal aborts', async () => {
    stub.converges = false;
    try {
      stub.seed(service({ spec: { name: 'idle' } }));
      await client.deploy('default', 'idle');
      const controller = new AbortController();
      const waiting = waitForConvergence(client, [{ grid: 'default', name: 'idle', goal: 'running' }], { timeoutMs: 5000, signal: controller.signal });
      controller.abort();
      await assert.rejects(waiting, /interrupted/);
    } finally {
      stub.converges = true;
    }
  });

  it('sees a removal through to 404', async () => {
    stub.seed(service({ spec: { name: 'gone' }, deployedGeneration: 1 }));
    await client.removeService('default', 'gone');
    const [done] = await waitForConvergence(client, [{ grid: 'default', name: 'gone', goal: 'removed' }], { timeoutMs: 5000 });
    assert.equal(done?.service, null);
  });
});
