import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServerRest } from '../../../src/kata/sim/api-server-rest.js';
import { CocoonError } from '../../../src/common/errors.js';

test('api-server-rest serves resources, info, and refuses what upstream refuses', async () => {
  const asked: string[] = [];
  const srv = await startApiServerRest({
    teeType: () => 'tdx',
    async getResource(uri) {
      asked.push(uri);
      if (uri.endsWith('/denied')) throw new CocoonError('ERR_KATA_SIM_ATTESTATION_FAILED', 'policy denied');
      if (uri.endsWith('/boom')) throw new Error('raw failure');
      return Buffer.from('s3cret');
    },
  });
  try {
    const ok = await fetch(`${srv.url}/cdh/resource/default/demo/secret`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 's3cret');
    assert.deepEqual(asked, ['kbs:///default/demo/secret']);
    const info = (await (await fetch(`${srv.url}/info`)).json()) as { tee: string; feature: string };
    assert.equal(info.tee, 'tdx');
    assert.equal(info.feature, 'resource');
    const cases: [string, string, number, RegExp][] = [
      ['fail_denied', '/cdh/resource/default/demo/denied', 500, /ERR_KATA_SIM_ATTESTATION_FAILED/],
      ['fail_untyped', '/cdh/resource/default/demo/boom', 500, /raw failure/],
      ['fail_short_path', '/cdh/resource/default/demo', 400, /BAD REQUEST/],
      ['fail_traversal', '/cdh/resource/default/%2e%2e/x', 400, /BAD REQUEST/],
      ['fail_attestation_feature_off', '/aa/token?token_type=kbs', 404, /Attestation Feature Not Enabled/],
      ['fail_unknown', '/nope', 404, /URL NOT FOUND/],
    ];
    for (const [name, path, status, body] of cases) {
      const r = await fetch(`${srv.url}${path}`);
      assert.equal(r.status, status, name);
      assert.match(await r.text(), body, name);
    }
    assert.equal((await fetch(`${srv.url}/info`, { method: 'POST' })).status, 405);
  } finally {
    await srv.close();
  }
});
