import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PullReporter } from './pull-progress.js';

describe('PullReporter', () => {
  it('says a pull once as an event, its layers at most twice a second, and its end with the time it took', () => {
    let now = 1000;
    const said: string[] = [];
    const pull = new PullReporter(() => now, () => 'web-1', {
      status: (partial, event) => said.push(`${event ? `event: ${event}` : 'status'} | ${partial.message} | ${partial.pull?.layers.length ?? '-'}`),
      pulled: (message, data) => said.push(`pulled: ${message} | ${JSON.stringify(data)}`),
    });
    pull.ended();
    assert.deepEqual(said, [], 'no pull, nothing to say');
    pull.progress({ image: 'nginx:1', layer: 'a', status: 'Downloading', current: 1, total: 10 });
    now += 100;
    pull.progress({ image: 'nginx:1', layer: 'b', status: 'Pull complete' });
    now += 500;
    pull.progress({ image: 'nginx:1', layer: 'a', status: 'Already exists' });
    now += 1500;
    pull.ended();
    pull.ended();
    assert.deepEqual(said, [
      'event: web-1 pulling image nginx:1 | pulling image nginx:1 | -',
      'status | pulling image nginx:1: 2/2 layers done | 2',
      'pulled: web-1 pulled image nginx:1 (2 layers) in 2.1 s | {"image":"nginx:1","layers":2}',
    ]);
  });
});
