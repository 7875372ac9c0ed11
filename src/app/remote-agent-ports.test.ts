import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeAgentClient } from '../client/index.js';
import { BerthApiError } from '../client/index.js';
import { silentLogger } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import { RemoteAgentPorts } from './remote-agent-ports.js';

const inst = {
  id: 'api-1',
  grid: 'default',
  service: 'api',
  slot: 1,
  node: 'vm-a',
  version: 1,
  status: { state: 'pending' },
  spec: { containers: [{ name: 'api', env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] },
} as unknown as Instance;

describe('RemoteAgentPorts: secret values', () => {
  it('a secret the server cannot decrypt is said as the server said it (the key it needs), not as a missing key', async () => {
    const message = 'secret "db" in grid "default" cannot be read: … encrypted with the key "k1", which this server\'s --encryption-key-file does not have';
    const client = {
      instances: async () => ({ items: [inst], revision: 1 }),
      credentials: async () => {
        throw new BerthApiError(500, 'SECRET_UNREADABLE', message, { grid: 'default', name: 'db', keyName: 'k1' });
      },
    } as unknown as NodeAgentClient;
    const ports = new RemoteAgentPorts(client, 'vm-a', silentLogger);
    await ports.sync();
    assert.throws(() => ports.secretValue('default', 'db', 'password'), { message });
    assert.equal(ports.secretValue('default', 'other', 'password'), undefined, 'other secrets: missing as before');
  });
});
