import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from './balancer.js';
import type { Backend, BalancedService } from './proxy-table.js';

const b = (n: number): Backend => ({ ip: `127.21.0.${n}`, port: 80, key: `127.21.0.${n}:80` });
const manualClock = () => {
  let t = 1_000_000;
  return { now: () => t, sleep: () => Promise.resolve(), advance: (ms: number) => (t += ms) };
};
const table = (service: BalancedService): Map<string, BalancedService> => new Map([['svc', service]]);

test('round-robins over the backends in order', () => {
  const balancer = new Balancer();
  balancer.update(table({ backends: [b(1), b(2), b(3)], affinity: { type: 'None' } }));
  const picks = Array.from({ length: 6 }, () => balancer.next('svc', '127.1.0.1')?.key);
  assert.deepEqual(picks, [b(1), b(2), b(3), b(1), b(2), b(3)].map((x) => x.key));
});

test('returns undefined for a service without backends or an unknown service', () => {
  const balancer = new Balancer();
  balancer.update(table({ backends: [], affinity: { type: 'None' } }));
  assert.equal(balancer.next('svc', '127.1.0.1'), undefined);
  assert.equal(balancer.next('other', '127.1.0.1'), undefined);
});

test('skips the backends a connection tried, and has none once it tried them all', () => {
  const balancer = new Balancer();
  balancer.update(table({ backends: [b(1), b(2), b(3)], affinity: { type: 'None' } }));
  assert.equal(balancer.next('svc', 'c', [b(1).key])?.key, b(2).key);
  assert.equal(balancer.next('svc', 'c', [b(3).key, b(1).key])?.key, b(2).key);
  assert.equal(balancer.next('svc', 'c', [b(1).key, b(2).key, b(3).key]), undefined);
  // a backend tried under an older table that is gone now does not hide the others
  balancer.update(table({ backends: [b(2)], affinity: { type: 'None' } }));
  assert.equal(balancer.next('svc', 'c', [b(9).key])?.key, b(2).key);
});

test('keeps a ClientIP client on its backend until timeoutSeconds of idleness', () => {
  const clock = manualClock();
  const balancer = new Balancer({ clock });
  balancer.update(table({ backends: [b(1), b(2), b(3)], affinity: { type: 'ClientIP', timeoutSeconds: 10 } }));
  const first = balancer.next('svc', '127.1.0.1')?.key;
  for (let i = 0; i < 5; i++) {
    clock.advance(9_000);
    assert.equal(balancer.next('svc', '127.1.0.1')?.key, first);
  }
  assert.notEqual(balancer.next('svc', '127.1.0.2')?.key, first);
  clock.advance(10_000);
  // expired: the next round-robin pick (b(3)) is taken, not the old backend
  assert.notEqual(balancer.next('svc', '127.1.0.1')?.key, first);
});

test('moves a sticky client whose backend left or refused', () => {
  const balancer = new Balancer();
  balancer.update(table({ backends: [b(1), b(2)], affinity: { type: 'ClientIP', timeoutSeconds: 10800 } }));
  const first = balancer.next('svc', 'c') as Backend;
  const moved = balancer.next('svc', 'c', [first.key]) as Backend;
  assert.notEqual(moved.key, first.key);
  assert.equal(balancer.next('svc', 'c')?.key, moved.key);
  balancer.update(table({ backends: [first], affinity: { type: 'ClientIP', timeoutSeconds: 10800 } }));
  assert.equal(balancer.next('svc', 'c')?.key, first.key);
});
