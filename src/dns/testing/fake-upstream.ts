/** A tiny upstream resolver for tests: UDP and TCP on one loopback port, answers from a function. */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';

export interface FakeUpstream {
  readonly port: number;
  /** Ids and transports of the queries it received, in order. */
  readonly received: { id: number; transport: 'udp' | 'tcp'; name: string }[];
  close(): Promise<void>;
}

/** `answer` returns the reply packet (id is filled in), or undefined to stay silent. */
export async function startFakeUpstream(answer: (query: DecodedPacket, transport: 'udp' | 'tcp') => Packet | undefined): Promise<FakeUpstream> {
  const received: FakeUpstream['received'] = [];
  const reply = (msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined => {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined; // like a real resolver, ignore what it cannot read
    }
    received.push({ id: query.id ?? 0, transport, name: query.questions?.[0]?.name ?? '' });
    const packet = answer(query, transport);
    return packet === undefined ? undefined : dnsPacket.encode({ ...packet, id: query.id, questions: query.questions });
  };
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcp = net.createServer((socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
        const out = reply(buffered.subarray(2, 2 + buffered.readUInt16BE(0)), 'tcp');
        if (out === undefined) return;
        const frame = Buffer.alloc(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        socket.end(frame);
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (attempt < 10) continue;
      throw new Error('no free port for the fake upstream');
    }
    udp.on('message', (msg, rinfo) => {
      const out = reply(msg, 'udp');
      if (out !== undefined) udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      port,
      received,
      close: async () => {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }
}

/** A loopback port with nothing listening on UDP or TCP (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
