import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupUser } from './system-user.js';

const passwd = ['root:x:0:0:root:/root:/bin/bash', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin', 'berth:x:998:997::/home/berth:/usr/sbin/nologin', '# a comment', 'broken:x:notanumber:1::/:/bin/sh', ''].join('\n');

describe('lookupUser', () => {
  it('finds users by name and by uid, as the shim does', () => {
    assert.deepEqual(lookupUser('berth', passwd), { name: 'berth', uid: 998, gid: 997 });
    assert.deepEqual(lookupUser('998', passwd), { name: 'berth', uid: 998, gid: 997 });
    assert.deepEqual(lookupUser('0', passwd), { name: 'root', uid: 0, gid: 0 });
  });

  it('takes a bare uid missing from the file as a user whose gid is its uid, and uid:gid as given', () => {
    assert.deepEqual(lookupUser('4242', passwd), { name: '4242', uid: 4242, gid: 4242 });
    assert.deepEqual(lookupUser('998:5', passwd), { name: 'berth', uid: 998, gid: 5 });
  });

  it('knows no name missing from the file, nor a malformed line', () => {
    assert.equal(lookupUser('ghost', passwd), undefined);
    assert.equal(lookupUser('broken', passwd), undefined);
  });
});
