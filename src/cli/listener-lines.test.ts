import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceCondition } from '../model/index.js';
import { createPalette } from './palette.js';
import { listenerWarnings, renderServiceTable } from './service-ls.js';
import { renderServiceDetails } from './service-show.js';
import { service } from './testing/fixtures.js';

/* Issue 9 §4: a listener that cannot be opened shows in `service show` (condition) and `service ls` (warning). */

const NOW = Date.parse('2026-11-21T15:03:00.000Z');
const c = createPalette(false);

const failing: ServiceCondition = {
  type: 'ListenersOpen',
  status: 'False',
  reason: 'EADDRINUSE',
  message: 'TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (listen EADDRINUSE: address already in use 127.0.0.1:30000); retried with back-off',
  lastTransitionTime: '2026-11-21T15:02:48.000Z',
  listeners: [{ listener: 'TCP 127.0.0.1:30000', kind: 'nodePort', servicePort: '80/TCP', error: 'EADDRINUSE', message: 'listen EADDRINUSE: address already in use 127.0.0.1:30000', since: '2026-11-21T15:02:48.000Z' }],
};

const held = service({ spec: { name: 'web', type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30000, protocol: 'TCP' }] }, deployedGeneration: 1, status: { conditions: [failing] } });
const fine = service({ spec: { name: 'api' }, deployedGeneration: 1, status: { conditions: [{ type: 'ListenersOpen', status: 'True', reason: 'Open', message: 'every listener is open', lastTransitionTime: '2026-11-21T15:00:00.000Z' }] } });

describe('listeners that are not open, in the CLI', () => {
  it('service show prints the condition with each listener, its error and since when', () => {
    const text = renderServiceDetails(held, [], { now: NOW, palette: c, deployHint: 'berth service deploy web' });
    const lines = text.split('\n');
    const at = lines.indexOf('  conditions:');
    assert.ok(at > 0, text);
    assert.equal(lines[at + 1], `    ListenersOpen: False (EADDRINUSE) for 12s — ${failing.message}`);
    assert.equal(lines[at + 2], '      - TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (listen EADDRINUSE: address already in use 127.0.0.1:30000), since 12s ago');
    assert.match(renderServiceDetails(fine, [], { now: NOW, palette: c, deployHint: '' }), /ListenersOpen: True for 3m — every listener is open/);
  });

  it('service ls marks the service and warns once per listener, pointing at why', () => {
    const table = renderServiceTable([fine, held], { now: NOW, palette: c });
    assert.match(table, /^api +1\/1 +running +1 /m);
    assert.match(table, /^web +1\/1 +running \(1 listener not open\) +1 /m);
    assert.deepEqual(listenerWarnings([fine, held], c, (name) => `berth service why ${name}`), [
      'warning: web: TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (listen EADDRINUSE: address already in use 127.0.0.1:30000); `berth service why web`',
    ]);
  });
});
