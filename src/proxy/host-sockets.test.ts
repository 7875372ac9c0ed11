import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { heldPorts, readHostSockets, subnetBroadcasts } from './host-sockets.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

describe('host sockets from /proc/net', () => {
  it('reads listening TCP and bound UDP sockets, IPv4, IPv6 wildcard and IPv4-mapped, skipping other TCP states', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-procnet-'));
    try {
      writeFileSync(join(dir, 'tcp'), `${HEADER}   0: 0100007F:7530 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n   1: 0100007F:7531 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n   2: 00000000:7532 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n`);
      writeFileSync(join(dir, 'tcp6'), `${HEADER}   0: 00000000000000000000000000000000:7533 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1\n   1: 0000000000000000FFFF00000500007F:7534 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1\n`);
      writeFileSync(join(dir, 'udp'), `${HEADER}   0: 0200007F:7535 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6 2\n`);
      const sockets = readHostSockets(dir);
      assert.deepEqual(sockets.map((s) => `${s.protocol} ${s.host}:${s.port}`), ['TCP 127.0.0.1:30000', 'TCP 0.0.0.0:30002', 'TCP :::30003', 'TCP 127.0.0.5:30004', 'UDP 127.0.0.2:30005']);
      assert.deepEqual([...heldPorts(sockets, 'TCP', ['127.0.0.1'])].sort(), [30000, 30002, 30003]);
      assert.deepEqual([...heldPorts(sockets, 'UDP', ['127.0.0.1'])], []);
      assert.deepEqual([...heldPorts(sockets, 'UDP', ['127.0.0.2'])], [30005]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees a real TCP listener and a real UDP socket of this process', async () => {
    const tcp = net.createServer().listen({ host: '127.0.0.1', port: 0 });
    await once(tcp, 'listening');
    const udp = dgram.createSocket('udp4').bind({ address: '127.0.0.1', port: 0 });
    await once(udp, 'listening');
    try {
      const sockets = readHostSockets();
      assert.ok(heldPorts(sockets, 'TCP', ['127.0.0.1']).has((tcp.address() as net.AddressInfo).port));
      assert.ok(heldPorts(sockets, 'UDP', ['127.0.0.1']).has(udp.address().port));
    } finally {
      tcp.close();
      udp.close();
    }
  });

  it('knows nothing, without failing, where /proc/net is missing', () => {
    assert.deepEqual(readHostSockets('/nonexistent/proc/net'), []);
  });
});

describe('subnet broadcast addresses', () => {
  it('computes each IPv4 subnet\'s directed broadcast, none for /31, /32 or IPv6', () => {
    const found = subnetBroadcasts({
      lo: [{ family: 'IPv4', address: '127.0.0.1', netmask: '255.0.0.0', cidr: '127.0.0.1/8' }, { family: 'IPv6', address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', cidr: '::1/128' }],
      eth0: [{ family: 'IPv4', address: '192.0.2.2', netmask: '255.255.255.0', cidr: '192.0.2.2/24' }],
      p2p: [{ family: 4, address: '10.0.0.0', netmask: '255.255.255.254', cidr: '10.0.0.0/31' }],
      host: [{ family: 'IPv4', address: '10.1.1.1', netmask: '255.255.255.255', cidr: '10.1.1.1/32' }],
    });
    assert.deepEqual(found, [
      { address: '127.255.255.255', cidr: '127.0.0.1/8', iface: 'lo' },
      { address: '192.0.2.255', cidr: '192.0.2.2/24', iface: 'eth0' },
    ]);
  });

  it('finds lo\'s 127.255.255.255 on this host', () => {
    assert.ok(subnetBroadcasts().some((b) => b.address === '127.255.255.255'));
  });
});
