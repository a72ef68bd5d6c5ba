import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/common/log.js';

function capture(): { lines: string[]; stream: Writable & { write: Writable['write'] } } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

test('logger redacts secrets, private keys, tokens and auth headers', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'info', name: 't', destination: stream });
  log.info(
    {
      secret: 'S3CRET',
      jwk: { kty: 'EC', d: 'PRIVATE-D', x: 'pub' },
      req: { headers: { authorization: 'Bearer T0KEN', cookie: 'kbs-session-id=abc' } },
      token: 'eyJ-token',
      nested: { privateKey: 'PK', password: 'pw' },
    },
    'hello',
  );
  const out = lines.join('');
  for (const leaked of ['S3CRET', 'PRIVATE-D', 'T0KEN', 'kbs-session-id=abc', 'eyJ-token', 'PK"', '"pw"']) {
    assert.ok(!out.includes(leaked), `leaked ${leaked}: ${out}`);
  }
  assert.ok(out.includes('"x":"pub"'), 'public members stay');
  const parsed = JSON.parse(out) as { name: string; msg: string; level: number };
  assert.equal(parsed.name, 't');
  assert.equal(parsed.msg, 'hello');
});

test('logger level comes from options, then COCOON_LOG_LEVEL; bad levels fall back to info', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'warn', destination: stream });
  log.info('dropped');
  log.warn('kept');
  assert.equal(lines.length, 1);
  const prev = process.env['COCOON_LOG_LEVEL'];
  process.env['COCOON_LOG_LEVEL'] = 'nonsense';
  try {
    assert.equal(createLogger({ destination: stream }).level, 'info');
    process.env['COCOON_LOG_LEVEL'] = 'debug';
    assert.equal(createLogger({ destination: stream }).level, 'debug');
  } finally {
    if (prev === undefined) delete process.env['COCOON_LOG_LEVEL'];
    else process.env['COCOON_LOG_LEVEL'] = prev;
  }
});
