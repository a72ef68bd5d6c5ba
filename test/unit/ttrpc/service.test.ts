import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/common/status.js';
import {
  loadProtoRoot,
  serveService,
  serviceClient,
  ttrpcStatusOf,
  TtrpcClient,
  type ServiceClient,
} from '../../../src/ttrpc/index.js';
import { rejectsCode, throwsCode } from '../../helpers/assert-code.js';
import { startServer } from './fixture.js';

const root = loadProtoRoot(['ttrpc/test/echo.proto']);
const NAME = 'cocoon.ttrpc.test.Echo';

describe('typed service helpers', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  let client: TtrpcClient;
  let echo: ServiceClient;
  const seenNs: string[] = [];

  before(async () => {
    srv = await startServer((s) => {
      serveService(s, root, NAME, {
        Say: async (req, ctx) => {
          seenNs.push(...(ctx.metadata['containerd-namespace-ttrpc'] ?? []));
          return { ...req, text: String(req['text']).toUpperCase(), count: Number(req['count']) + 1 };
        },
        Nothing: async () => ({}),
      });
    });
    client = await TtrpcClient.connect(srv.address, {
      metadata: { 'containerd-namespace-ttrpc': 'default' },
    });
    echo = serviceClient(client, root, NAME);
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  test('pass_round_trip_with_longs_as_numbers_and_defaults_kept', async () => {
    const res = await echo.call('Say', {
      text: 'hi',
      count: 41,
      big: 2 ** 40,
      blob: Buffer.from([1, 2]),
      tags: ['a'],
      kind: 1,
    });
    assert.equal(res['text'], 'HI');
    assert.equal(res['count'], 42);
    assert.equal(res['big'], 2 ** 40);
    assert.equal(typeof res['big'], 'number');
    assert.deepEqual([...(res['blob'] as Uint8Array)], [1, 2]);
    assert.deepEqual(res['tags'], ['a']);
    assert.equal(res['kind'], 1);
    assert.deepEqual(seenNs, ['default']);
  });

  test('pass_defaults_present_in_decoded_objects', async () => {
    const res = await echo.call('Say', {});
    assert.equal(res['text'], '');
    assert.equal(res['count'], 1);
    assert.equal(res['big'], 0);
    assert.deepEqual(res['tags'], []);
    assert.deepEqual(await echo.call('Nothing', {}), {});
  });

  test('fail_unimplemented_method_of_the_service', async () => {
    const e = await rejectsCode(async () => {
      for await (const _ of echo.serverStream('Repeat', { text: 'x' })) assert.fail();
    }, 'ERR_TTRPC_STATUS');
    assert.deepEqual(ttrpcStatusOf(e), { code: Status.UNIMPLEMENTED, message: 'method Repeat' });
  });

  test('fail_bad_field_type_is_rejected_before_sending', async () => {
    await rejectsCode(echo.call('Say', { count: 'many' }), 'ERR_TTRPC_MESSAGE_INVALID');
  });

  test('fail_unknown_method_name', async () => {
    await rejectsCode(echo.call('Shout', {}), 'ERR_TTRPC_PROTO_INVALID');
  });

  test('fail_garbled_request_payload_is_invalid_argument', async () => {
    const e = await rejectsCode(client.unary(NAME, 'Say', Buffer.from([0x0a, 0x40])), 'ERR_TTRPC_STATUS');
    assert.equal(ttrpcStatusOf(e)?.code, Status.INVALID_ARGUMENT);
  });

  test('pass_server_stream_helper', async () => {
    const srv2 = await startServer((s) =>
      s.registerStream(
        NAME,
        'Repeat',
        async (st) => {
          for await (const _ of st) {
            await st.send(Buffer.from([0x0a, 0x01, 0x61]));
            await st.send(Buffer.from([0x0a, 0x01, 0x62]));
          }
          return undefined;
        },
        { streamingClient: false, streamingServer: true },
      ),
    );
    const c = await TtrpcClient.connect(srv2.address);
    const texts: unknown[] = [];
    for await (const m of serviceClient(c, root, NAME).serverStream('Repeat', { text: 'x' }))
      texts.push(m['text']);
    assert.deepEqual(texts, ['a', 'b']);
    await c.close();
    await srv2.close();
  });

  test('pass_imports_resolve_through_include_dirs', () => {
    const r = loadProtoRoot(['ttrpc/test/nested/outer.proto'], { includeDirs: ['ttrpc/test/lib'] });
    const outer = r.lookupType('cocoon.ttrpc.test.nested.Outer');
    assert.deepEqual(
      outer.toObject(outer.decode(outer.encode(outer.fromObject({ inner: { name: 'n' } })).finish())),
      {
        inner: { name: 'n' },
      },
    );
    throwsCode(() => loadProtoRoot(['ttrpc/test/nested/outer.proto']), 'ERR_TTRPC_PROTO_INVALID');
  });

  const loadCases = [
    { name: 'fail_missing_proto_file', fn: () => loadProtoRoot(['ttrpc/test/none.proto']) },
    { name: 'fail_unknown_service', fn: () => serviceClient(client, root, 'no.Such') },
    {
      name: 'fail_impl_method_not_in_service',
      fn: () => serveService(srv.server, root, NAME, { Shout: async () => ({}) }),
    },
  ];
  for (const c of loadCases) test(c.name, () => void throwsCode(c.fn, 'ERR_TTRPC_PROTO_INVALID'));
});
