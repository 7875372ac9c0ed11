import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity, Permission } from './access.js';
import { authorize, canGrant, roleIn, weakestRoleFor } from './access.js';

const user = (grants: Identity['grants']): Identity => ({ kind: 'user', subject: 'token t (test)', grants });
const clusterAdmin = user([{ role: 'cluster-admin' }]);
const shopAdmin = user([{ role: 'admin', grid: 'shop' }]);
const shopOperator = user([{ role: 'operator', grid: 'shop' }]);
const shopViewer = user([{ role: 'viewer', grid: 'shop' }]);
const webAccount: Identity = { kind: 'service', subject: 'service "web" in grid "shop"', grants: [], service: { grid: 'shop', name: 'web' } };

describe('access policy', () => {
  const table: [string, Identity, Permission, { grid?: string; service?: string }, boolean][] = [
    ['a cluster-admin does everything, anywhere', clusterAdmin, 'manage-grids', {}, true],
    ['a cluster-admin may run privileged specs', clusterAdmin, 'privileged', { grid: 'shop' }, true],
    ['a grid admin manages its grid\'s tokens', shopAdmin, 'manage-tokens', { grid: 'shop' }, true],
    ['a grid admin has no power in another grid', shopAdmin, 'read', { grid: 'default' }, false],
    ['a grid admin cannot create grids', shopAdmin, 'manage-grids', {}, false],
    ['a grid admin cannot run privileged specs', shopAdmin, 'privileged', { grid: 'shop' }, false],
    ['an operator deploys', shopOperator, 'operate', { grid: 'shop', service: 'web' }, true],
    ['an operator reads logs', shopOperator, 'logs', { grid: 'shop', service: 'web' }, true],
    ['an operator cannot manage tokens', shopOperator, 'manage-tokens', { grid: 'shop' }, false],
    ['a viewer reads', shopViewer, 'read', { grid: 'shop', service: 'web' }, true],
    ['a viewer cannot change anything', shopViewer, 'operate', { grid: 'shop', service: 'web' }, false],
    ['a viewer does not read logs', shopViewer, 'logs', { grid: 'shop', service: 'web' }, false],
    ['a viewer does not read nodes', shopViewer, 'cluster-read', {}, false],
    ['a service account reads its own service', webAccount, 'read', { grid: 'shop', service: 'web' }, true],
    ['a service account cannot read another service', webAccount, 'read', { grid: 'shop', service: 'db' }, false],
    ['a service account cannot list its grid', webAccount, 'read', { grid: 'shop' }, false],
    ['a service account cannot change its own service', webAccount, 'operate', { grid: 'shop', service: 'web' }, false],
    ['a service account cannot read its grid\'s secrets list', webAccount, 'read', { grid: 'shop' }, false],
    ['nobody with no grants reads', user([]), 'read', { grid: 'default' }, false],
  ];
  for (const [name, identity, permission, scope, allowed] of table) {
    it(name, () => assert.equal(authorize(identity, permission, scope).allowed, allowed));
  }

  it('a refusal names the weakest role that would do, and where', () => {
    const d = authorize(shopViewer, 'operate', { grid: 'shop', service: 'web' });
    assert.equal(d.allowed, false);
    assert.ok(!d.allowed);
    assert.equal(d.needed, 'operator');
    assert.match(d.message, /needs the role operator or higher in grid "shop"/);
    assert.match(d.message, /viewer in grid "shop"/);
    assert.equal(weakestRoleFor('manage-tokens'), 'admin');
    assert.equal(weakestRoleFor('privileged'), 'cluster-admin');
    assert.equal(weakestRoleFor('read'), 'viewer');
  });

  it('roles are granted only by someone who holds them (no escalation)', () => {
    assert.equal(canGrant(shopAdmin, 'operator', 'shop'), true);
    assert.equal(canGrant(shopAdmin, 'admin', 'shop'), true);
    assert.equal(canGrant(shopAdmin, 'viewer', 'default'), false);
    assert.equal(canGrant(shopAdmin, 'cluster-admin', undefined), false);
    assert.equal(canGrant(shopOperator, 'admin', 'shop'), false);
    assert.equal(canGrant(clusterAdmin, 'cluster-admin', undefined), true);
    assert.equal(canGrant(clusterAdmin, 'admin', 'anything'), true);
  });

  it('the strongest of several grants counts in a grid', () => {
    const both = user([{ role: 'viewer', grid: 'shop' }, { role: 'admin', grid: 'shop' }, { role: 'operator', grid: 'dev' }]);
    assert.equal(roleIn(both, 'shop'), 'admin');
    assert.equal(roleIn(both, 'dev'), 'operator');
    assert.equal(roleIn(both, 'prod'), undefined);
  });
});
