import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { IEvent, IWatchRequest, IWatchResponse, Namespace } from 'etcd3';
import type { KvEvent } from './kv-backend.js';
import { waitFor } from './conformance-tools.js';
import { EtcdWatch } from './etcd-watch.js';

/** A stand-in for etcd3's watch stream: records what the watch writes, lets the test answer. */
class FakeStream extends EventEmitter {
  readonly written: IWatchRequest[] = [];
  cancelled = false;
  ended = false;
  write(req: IWatchRequest): void {
    this.written.push(req);
  }
  end(): void {
    this.ended = true;
  }
  cancel(): void {
    this.cancelled = true;
  }
}

function fakeClient(): { client: Namespace; streams: FakeStream[] } {
  const streams: FakeStream[] = [];
  const client = {
    watchClient: {
      watch: async () => {
        const s = new FakeStream();
        streams.push(s);
        return s;
      },
    },
  } as unknown as Namespace;
  return { client, streams };
}

const header = (revision: number): IWatchResponse['header'] => ({ revision: String(revision) }) as IWatchResponse['header'];
const put = (key: string, rev: number): IEvent => ({ type: 'Put', kv: { key: Buffer.from(key), value: Buffer.from('v'), create_revision: String(rev), mod_revision: String(rev), version: '1', lease: '0' } }) as IEvent;
const response = (fields: Partial<IWatchResponse>): IWatchResponse => ({ header: header(3001), watch_id: '1', created: false, canceled: false, compact_revision: '0', cancel_reason: '', fragment: false, events: [], ...fields }) as IWatchResponse;

describe('EtcdWatch', () => {
  it('resumes from the last event delivered, not from the header revision, and drops what it already gave', async () => {
    const { client, streams } = fakeClient();
    const got: KvEvent[] = [];
    const errors: Error[] = [];
    const watch = new EtcdWatch(client, { key: Buffer.from('/p/'), rangeEnd: Buffer.from('/p0'), prevKv: false }, 1, { events: (e) => got.push(...e), compacted: () => assert.fail('no compaction'), error: (e) => errors.push(e) });
    try {
      await waitFor(() => streams.length === 1 && streams[0]?.written.length === 1, 2000, 'the first create request');
      const first = streams[0] as FakeStream;
      assert.equal(first.written[0]?.create_request?.start_revision, 2);
      // A catching-up watch: the created reply and the first batch carry the store's revision (3001).
      first.emit('data', response({ created: true }));
      first.emit('data', response({ events: [put('/p/a', 2), put('/p/b', 3)] }));
      first.emit('error', new Error('14 UNAVAILABLE: member killed'));
      await waitFor(() => streams.length === 2 && streams[1]?.written.length === 1, 2000, 'the reconnect');
      assert.equal(first.cancelled, true);
      assert.equal(first.ended, true, 'half-closed before it is cancelled (etcd3 counts an error of a writable stream against the host)');
      const second = streams[1] as FakeStream;
      assert.equal(second.written[0]?.create_request?.start_revision, 4, 'resumes after revision 3, the last event delivered (etcd3 would ask for 3002)');
      second.emit('data', response({ created: true }));
      second.emit('data', response({ events: [put('/p/b', 3), put('/p/c', 4)] })); // 3 again: dropped
      first.emit('data', response({ events: [put('/p/z', 9)] })); // the old stream is ignored
      assert.deepEqual(got.map((e) => [e.kv.key, e.kv.modRevision]), [['/p/a', 2], ['/p/b', 3], ['/p/c', 4]]);
      assert.deepEqual(errors.map((e) => e.message), ['14 UNAVAILABLE: member killed']);
    } finally {
      watch.dispose();
    }
  });

  it('ends with one compacted call when etcd answers with compact_revision, and does not reconnect', async () => {
    const { client, streams } = fakeClient();
    const compacted: number[] = [];
    const watch = new EtcdWatch(client, { key: Buffer.from('/p/'), rangeEnd: Buffer.from('/p0'), prevKv: true }, 5, { events: () => assert.fail('no events'), compacted: (r) => compacted.push(r) });
    await waitFor(() => streams[0]?.written.length === 1, 2000, 'the create request');
    const s = streams[0] as FakeStream;
    assert.equal(s.written[0]?.create_request?.prev_kv, true);
    s.emit('data', response({ created: true }));
    s.emit('data', response({ canceled: true, compact_revision: '40' }));
    s.emit('error', new Error('cancelled'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(compacted, [40]);
    assert.equal(streams.length, 1, 'no reconnect after compaction');
    assert.equal(s.cancelled, true);
    watch.dispose();
  });
});
