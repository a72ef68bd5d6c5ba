import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/main.js';
import { processContext, type CliContext } from '../../../src/cli/context.js';
import { CocoonError } from '../../../src/common/errors.js';
import { startServer, tempDir } from './fixture.js';

const SVC = 'cocoon.test.Cli';

function capture(): { ctx: CliContext; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { ctx: { ...processContext, out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

describe('cocoon ttrpc call', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  const tmp = tempDir();
  before(async () => {
    srv = await startServer((s) => {
      s.register(SVC, 'Echo', async (p, ctx) =>
        Buffer.concat([
          Buffer.from(p),
          Buffer.from(JSON.stringify(ctx.metadata)),
          Buffer.from(ctx.deadline ? 'D' : ''),
        ]),
      );
      s.register(SVC, 'Fail', async () => {
        throw new CocoonError('ERR_COMMON_INVALID_ARGUMENT', 'nope');
      });
      s.registerStream(
        SVC,
        'Three',
        async (st) => {
          for (const v of [1, 2, 3]) await st.send(Buffer.from([v]));
          return undefined;
        },
        { streamingClient: false, streamingServer: true },
      );
    });
  });
  after(async () => {
    await srv.close();
    tmp.cleanup();
  });

  test('pass_unary_with_hex_payload_metadata_and_timeout', async () => {
    const c = capture();
    const code = await runCli(
      [
        'ttrpc',
        'call',
        srv.address,
        `${SVC}/Echo`,
        '--payload-hex',
        '0aff',
        '--md',
        'K=v',
        '--md',
        'k=w',
        '--timeout',
        '5000',
      ],
      c.ctx,
    );
    assert.equal(code, 0);
    assert.equal(c.out.length, 1);
    const line = JSON.parse(c.out[0]!) as { status: { code: number; message: string }; payloadHex: string };
    assert.deepEqual(line.status, { code: 0, message: '' });
    const payload = Buffer.from(line.payloadHex, 'hex');
    assert.deepEqual([...payload.subarray(0, 2)], [0x0a, 0xff]);
    assert.equal(payload.subarray(2).toString(), '{"k":["v","w"]}D');
  });

  test('pass_payload_file_and_leading_slash_path', async () => {
    const f = join(tmp.dir, 'req.bin');
    writeFileSync(f, Buffer.from('from-file'));
    const c = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, `/${SVC}/Echo`, '--payload-file', f], c.ctx), 0);
    const line = JSON.parse(c.out[0]!) as { payloadHex: string };
    assert.ok(Buffer.from(line.payloadHex, 'hex').toString().startsWith('from-file{}'));
  });

  test('fail_status_line_and_exit_1', async () => {
    const c = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, `${SVC}/Fail`], c.ctx), 1);
    assert.deepEqual(JSON.parse(c.out[0]!), { status: { code: 3, message: 'nope' }, payloadHex: '' });
    const u = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, `${SVC}/Missing`], u.ctx), 1);
    assert.deepEqual(JSON.parse(u.out[0]!), {
      status: { code: 12, message: 'method Missing' },
      payloadHex: '',
    });
  });

  test('pass_stream_prints_each_data_then_final_status', async () => {
    const c = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, `${SVC}/Three`, '--stream'], c.ctx), 0);
    assert.deepEqual(
      c.out.map((l) => JSON.parse(l) as unknown),
      [
        { status: { code: 0, message: '' }, payloadHex: '01' },
        { status: { code: 0, message: '' }, payloadHex: '02' },
        { status: { code: 0, message: '' }, payloadHex: '03' },
        { status: { code: 0, message: '' }, payloadHex: '' },
      ],
    );
    const u = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, `${SVC}/Nope`, '--stream'], u.ctx), 1);
    assert.equal((JSON.parse(u.out.at(-1)!) as { status: { code: number } }).status.code, 12);
  });

  const usage = [
    { name: 'fail_bad_hex', args: ['--payload-hex', 'zz'] },
    { name: 'fail_both_payloads', args: ['--payload-hex', '00', '--payload-file', '/x'] },
    { name: 'fail_bad_timeout', args: ['--timeout', '-5'] },
    { name: 'fail_bad_md', args: ['--md', 'novalue'] },
  ];
  for (const u of usage) {
    test(u.name, async () => {
      const c = capture();
      assert.equal(await runCli(['ttrpc', 'call', srv.address, `${SVC}/Echo`, ...u.args], c.ctx), 2);
      assert.match(c.err.join('\n'), /ERR_CLI_USAGE/);
    });
  }

  test('fail_bad_target_is_usage', async () => {
    const c = capture();
    assert.equal(await runCli(['ttrpc', 'call', srv.address, 'NoSlash'], c.ctx), 2);
  });

  test('fail_bad_address_and_missing_file', async () => {
    const c = capture();
    assert.equal(await runCli(['ttrpc', 'call', 'bogus://x', `${SVC}/Echo`], c.ctx), 1);
    assert.match(c.err.join('\n'), /ERR_TRANSPORT_ADDRESS_INVALID/);
    const m = capture();
    assert.equal(
      await runCli(
        ['ttrpc', 'call', srv.address, `${SVC}/Echo`, '--payload-file', join(tmp.dir, 'none')],
        m.ctx,
      ),
      1,
    );
    assert.match(m.err.join('\n'), /ERR_COMMON_IO/);
  });
});
