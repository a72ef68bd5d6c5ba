/**
 * `cocoon ttrpc call ADDRESS SERVICE/METHOD`: a debugging client for shims and agents
 * (docs/ttrpc.md). Prints one JSON object per response message:
 * `{"status":{"code":N,"message":"..."},"payloadHex":"..."}`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fromHex, toHex } from '../../common/bytes.js';
import { CocoonError } from '../../common/errors.js';
import { statusFromError, TtrpcClient } from '../../ttrpc/index.js';
import { EXIT, ExitCode, usageError, type CliContext } from '../context.js';

/** Options of `cocoon ttrpc call`. */
interface CallFlags {
  readonly payloadHex?: string;
  readonly payloadFile?: string;
  readonly timeout?: string;
  readonly md: string[];
  readonly stream?: boolean;
}

/** Dial budget of the CLI when --timeout is absent. */
const CLI_DIAL_TIMEOUT_MS = 10_000;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function line(code: number, message: string, payload: Uint8Array): string {
  return JSON.stringify({ status: { code, message }, payloadHex: toHex(payload) });
}

function parseFlags(
  target: string,
  flags: CallFlags,
): {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutMs: number | undefined;
  metadata: Record<string, string[]>;
} {
  const slash = target.lastIndexOf('/');
  if (slash <= 0 || slash === target.length - 1)
    throw usageError('expected SERVICE/METHOD, e.g. containerd.task.v2.Task/Connect');
  const service = target.slice(0, slash).replace(/^\//, '');
  const method = target.slice(slash + 1);
  if (flags.payloadHex !== undefined && flags.payloadFile !== undefined) {
    throw usageError('--payload-hex and --payload-file are mutually exclusive');
  }
  let payload: Uint8Array = new Uint8Array(0);
  if (flags.payloadHex !== undefined) {
    try {
      payload = fromHex(flags.payloadHex, '--payload-hex');
    } catch (e) {
      throw usageError((e as Error).message);
    }
  } else if (flags.payloadFile !== undefined) {
    try {
      payload = readFileSync(flags.payloadFile);
    } catch (e) {
      throw new CocoonError('ERR_COMMON_IO', `cannot read --payload-file ${flags.payloadFile}`, { cause: e });
    }
  }
  let timeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    timeoutMs = Number(flags.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
      throw usageError('--timeout must be a positive number of milliseconds');
  }
  const metadata: Record<string, string[]> = {};
  for (const kv of flags.md) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw usageError(`--md expects key=value, got ${JSON.stringify(kv)}`);
    (metadata[kv.slice(0, eq).toLowerCase()] ??= []).push(kv.slice(eq + 1));
  }
  return { service, method, payload, timeoutMs, metadata };
}

/** Runs one call and prints its response lines; returns the process exit code. */
async function runCall(ctx: CliContext, address: string, target: string, flags: CallFlags): Promise<number> {
  const p = parseFlags(target, flags);
  const client = await TtrpcClient.connect(address, {
    dial: { timeoutMs: p.timeoutMs ?? CLI_DIAL_TIMEOUT_MS, retry: { attempts: 3 } },
  });
  const opts = { metadata: p.metadata, ...(p.timeoutMs === undefined ? {} : { timeoutMs: p.timeoutMs }) };
  try {
    if (flags.stream === true) {
      for await (const msg of client.serverStream(p.service, p.method, p.payload, opts))
        ctx.out(line(0, '', msg));
      ctx.out(line(0, '', new Uint8Array(0)));
    } else {
      ctx.out(line(0, '', await client.unary(p.service, p.method, p.payload, opts)));
    }
    return EXIT.OK;
  } catch (e) {
    const st = statusFromError(e);
    ctx.out(line(st.code, st.message, new Uint8Array(0)));
    return EXIT.FAILURE;
  } finally {
    await client.close();
  }
}

/** Registers `cocoon ttrpc`. */
export function register(program: Command, ctx: CliContext): void {
  const group = program
    .command('ttrpc')
    .description('ttrpc debugging client (call a service/method on a shim or agent)');
  group
    .command('call')
    .description(
      'call SERVICE/METHOD at ADDRESS (unix:///p, vsock://CID:PORT, hvsock:///p:PORT, tcp://H:P); one JSON line per response message',
    )
    .argument('<address>', 'transport address')
    .argument('<service/method>', 'e.g. containerd.task.v2.Task/Connect')
    .option('--payload-hex <hex>', 'request payload (a marshalled protobuf message) as hex')
    .option('--payload-file <file>', 'request payload read from a file')
    .option('--timeout <ms>', 'deadline in milliseconds (sent as timeout_nano)')
    .option('--md <key=value>', 'request metadata (repeatable)', collect, [])
    .option('--stream', 'server-streaming call: one line per Data message, then a final status line')
    .action(async (address: string, target: string, flags: CallFlags) => {
      const code = await runCall(ctx, address, target, flags);
      if (code !== EXIT.OK) throw new ExitCode(code);
    });
}
