/**
 * `cocoon kbs-client`: attest, fetch resources and configure a KBS, with flags close to Trustee's
 * kbs-client (kbs-protocol.md §9.2). Thin: flags → src/kbs-client.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CocoonError } from '../../common/errors.js';
import {
  aaEvidenceProvider,
  adminKeyFromPem,
  AttestationAgentClient,
  DEFAULT_AA_ADDRESS,
  generateTeeKey,
  KbsAdminClient,
  KbsClient,
  sampleDeviceAttester,
  sampleEvidenceProvider,
  simSnpEvidenceProvider,
  simTdxEvidenceProvider,
  teeKeyFromPem,
  type EvidenceProvider,
  type HttpOptions,
  type TeeKeyPair,
} from '../../kbs-client/index.js';
import { usageError, type CliContext } from '../context.js';

interface GlobalFlags {
  url: string;
  cert?: string;
  certFile?: string;
  insecureHttp?: boolean;
  timeout?: string;
}

interface AttestFlags {
  tee?: string;
  aaAddress?: string;
  teeKeyFile?: string;
  teeKeyAlgorithm?: string;
  initdata?: string;
  sampleDevice?: string | boolean;
  attestationToken?: string;
  path?: string;
  base64?: boolean;
}

interface AdminFlags {
  adminKey?: string;
  adminTokenFile?: string;
}

function readFileOr(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `cannot read ${what} ${path}`, { cause: e });
  }
}

function httpOptions(cmd: Command): HttpOptions {
  const g = cmd.optsWithGlobals() as GlobalFlags;
  const ca = g.cert ?? g.certFile;
  const timeout = g.timeout === undefined ? undefined : Number(g.timeout);
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout <= 0))
    throw usageError('--timeout must be a positive number of ms');
  return {
    url: g.url,
    ...(ca === undefined ? {} : { ca: readFileOr(ca, 'CA certificate') }),
    ...(g.insecureHttp === true ? { insecureHttp: true } : {}),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
  };
}

function provider(f: AttestFlags): { evidence: EvidenceProvider; close: () => Promise<void> } {
  switch (f.tee ?? 'sample') {
    case 'sample':
      return { evidence: sampleEvidenceProvider(), close: () => Promise.resolve() };
    case 'sim-tdx':
      return { evidence: simTdxEvidenceProvider(), close: () => Promise.resolve() };
    case 'sim-snp':
      return { evidence: simSnpEvidenceProvider(), close: () => Promise.resolve() };
    case 'aa': {
      const aa = new AttestationAgentClient({ address: f.aaAddress ?? DEFAULT_AA_ADDRESS });
      return { evidence: aaEvidenceProvider(aa), close: () => aa.close() };
    }
    default:
      throw usageError(`--tee must be sample, sim-tdx, sim-snp or aa; got ${f.tee}`);
  }
}

function teeKey(f: AttestFlags): TeeKeyPair {
  if (f.teeKeyFile !== undefined) return teeKeyFromPem(readFileOr(f.teeKeyFile, 'TEE key'));
  const alg = f.teeKeyAlgorithm ?? 'ECDH-ES+A256KW-P256';
  if (alg !== 'ECDH-ES+A256KW-P256' && alg !== 'RSA-OAEP-256')
    throw usageError('--tee-key-algorithm must be ECDH-ES+A256KW-P256 or RSA-OAEP-256');
  return generateTeeKey(alg);
}

function attestOptions(c: Command): Command {
  return c
    .option('--tee <kind>', 'evidence source: sample | sim-tdx | sim-snp | aa', 'sample')
    .option(
      '--aa-address <addr>',
      `Attestation Agent address (unix://, vsock://, hvsock://); default ${DEFAULT_AA_ADDRESS}`,
    )
    .option('--tee-key-file <pem>', 'TEE private key (PEM); default a fresh key')
    .option('--tee-key-algorithm <alg>', 'fresh key type: ECDH-ES+A256KW-P256 (default) or RSA-OAEP-256')
    .option('--initdata <file>', 'init-data TOML sent with the attestation')
    .option(
      '--sample-device [svn]',
      'also attest the simulated secondary device "sampledevice" (class gpu; svn default 2)',
    );
}

async function withClient<T>(cmd: Command, f: AttestFlags, run: (c: KbsClient) => Promise<T>): Promise<T> {
  const http = httpOptions(cmd);
  const initData =
    f.initdata === undefined
      ? undefined
      : { format: 'toml', body: readFileOr(f.initdata, 'init-data').toString('utf8') };
  if (f.attestationToken !== undefined) {
    // Passport mode (Trustee --attestation-token): the token must name the given TEE key.
    if (f.teeKeyFile === undefined) throw usageError('--attestation-token needs --tee-key-file');
    const token = readFileOr(f.attestationToken, 'attestation token').toString('utf8').trim();
    const key = teeKey(f);
    const c = new KbsClient({
      ...http,
      tokenProvider: { getToken: () => Promise.resolve({ token, teeKey: key }) },
      maxAttempts: 1,
    });
    return run(c);
  }
  const p = provider(f);
  try {
    return await run(
      new KbsClient({
        ...http,
        evidence: p.evidence,
        teeKey: teeKey(f),
        ...(initData === undefined ? {} : { initData }),
        ...(f.sampleDevice === undefined
          ? {}
          : { devices: [sampleDeviceAttester(typeof f.sampleDevice === 'string' ? f.sampleDevice : '2')] }),
      }),
    );
  } finally {
    await p.close();
  }
}

function admin(cmd: Command): KbsAdminClient {
  const a = cmd.optsWithGlobals() as AdminFlags;
  const http = httpOptions(cmd);
  if (a.adminTokenFile !== undefined) {
    return new KbsAdminClient({
      ...http,
      adminToken: readFileOr(a.adminTokenFile, 'admin token').toString('utf8'),
    });
  }
  if (a.adminKey !== undefined)
    return new KbsAdminClient({ ...http, adminKey: adminKeyFromPem(readFileOr(a.adminKey, 'admin key')) });
  return new KbsAdminClient(http);
}

/** Parses a reference value the way Trustee's set-sample-reference-value does (§7.4). */
export function referenceValue(
  value: string,
  o: { asInteger?: boolean; asBool?: boolean; asSingleValue?: boolean },
): unknown {
  let v: unknown = value;
  if (o.asInteger === true) {
    if (!/^-?\d+$/.test(value)) throw usageError(`${value} is not an integer`);
    v = Number(value);
  } else if (o.asBool === true) {
    if (value !== 'true' && value !== 'false') throw usageError(`${value} is not true/false`);
    v = value === 'true';
  }
  return o.asSingleValue === true ? v : [v];
}

/** Registers `cocoon kbs-client`. */
export function register(program: Command, ctx: CliContext): void {
  const kc = program
    .command('kbs-client')
    .description('KBS client: attest, fetch resources, admin configuration (protocol 0.4.0)')
    .requiredOption('--url <url>', 'KBS base URL (https:// unless --insecure-http)')
    .option('--cert <pem>', 'CA certificate for the KBS HTTPS endpoint')
    .option('--cert-file <pem>', 'alias of --cert (Trustee kbs-client spelling)')
    .option('--insecure-http', 'allow a plain http:// KBS URL')
    .option('--timeout <ms>', 'per-request timeout in ms (default 60000)');

  attestOptions(
    kc.command('attest').description('run the RCAR handshake and print the attestation token'),
  ).action(async (f: AttestFlags, cmd: Command) => {
    ctx.out(await withClient(cmd, f, (c) => c.attest()));
  });

  attestOptions(
    kc
      .command('get-resource')
      .description('attest and write the decrypted resource to stdout')
      .requiredOption('--path <repo/type/tag>', 'resource path')
      .option('--attestation-token <file>', 'use this token (Bearer, passport mode) instead of attesting')
      .option('--base64', 'print standard base64 (as Trustee kbs-client does) instead of raw bytes'),
  ).action(async (f: AttestFlags, cmd: Command) => {
    const secret = await withClient(cmd, f, (c) => c.getResource(f.path!));
    if (f.base64 === true) ctx.out(secret.toString('base64'));
    else process.stdout.write(secret);
  });

  const config = kc
    .command('config')
    .description('admin calls (Authorization: Bearer JWT)')
    .option('--admin-key <pem>', 'admin private key (Ed25519 or P-256) that signs a fresh token per call')
    .option('--admin-token-file <file>', 'a pre-minted admin token');
  config
    .command('set-resource')
    .requiredOption('--path <repo/type/tag>', 'resource path')
    .requiredOption('--resource-file <file>', 'file with the secret bytes')
    .action(async (f: { path: string; resourceFile: string }, cmd: Command) => {
      await admin(cmd).setResource(f.path, readFileOr(f.resourceFile, 'resource'));
    });
  config
    .command('delete-resource')
    .requiredOption('--path <repo/type/tag>', 'resource path')
    .action(async (f: { path: string }, cmd: Command) => {
      await admin(cmd).deleteResource(f.path);
    });
  config
    .command('set-attestation-policy')
    .requiredOption('--policy-file <file>', 'policy text (Rego, or builtin:default)')
    .option('--id <id>', 'policy id', 'default_cpu')
    .option('--type <type>', 'policy type', 'rego')
    .action(async (f: { policyFile: string; id: string; type: string }, cmd: Command) => {
      await admin(cmd).setAttestationPolicy(
        readFileOr(f.policyFile, 'policy').toString('utf8'),
        f.id,
        f.type,
      );
    });
  config
    .command('set-resource-policy')
    .option('--policy-file <file>', 'policy text (Rego, or builtin:<name>)')
    .option('--allow-all', 'built-in allow_all')
    .option('--deny-all', 'built-in deny_all')
    .option('--affirming', 'built-in affirming')
    .option(
      '--default',
      "built-in default (refuses the sample TEE; Trustee's kbs-client uploads deny_all here)",
    )
    .action(
      async (
        f: {
          policyFile?: string;
          allowAll?: boolean;
          denyAll?: boolean;
          affirming?: boolean;
          default?: boolean;
        },
        cmd: Command,
      ) => {
        const picks = [
          f.policyFile === undefined ? undefined : readFileOr(f.policyFile, 'policy').toString('utf8'),
          f.allowAll === true ? 'builtin:allow_all' : undefined,
          f.denyAll === true ? 'builtin:deny_all' : undefined,
          f.affirming === true ? 'builtin:affirming' : undefined,
          f.default === true ? 'builtin:default' : undefined,
        ].filter((x): x is string => x !== undefined);
        if (picks.length !== 1)
          throw usageError(
            'give exactly one of --policy-file, --allow-all, --deny-all, --affirming, --default',
          );
        await admin(cmd).setResourcePolicy(picks[0]!);
      },
    );
  for (const name of ['set-reference-value', 'set-sample-reference-value']) {
    config
      .command(name)
      .description('register a sample reference value (a one-element list unless --as-single-value)')
      .argument('<name>', 'reference value name')
      .argument('<value>', 'value (a string unless --as-integer / --as-bool)')
      .option('--as-integer', 'parse the value as an integer')
      .option('--as-bool', 'parse the value as true/false')
      .option('--as-single-value', 'store the value itself, not a one-element list')
      .action(
        async (
          n: string,
          v: string,
          f: { asInteger?: boolean; asBool?: boolean; asSingleValue?: boolean },
          cmd: Command,
        ) => {
          await admin(cmd).setReferenceValues({ [n]: referenceValue(v, f) });
        },
      );
  }
  config
    .command('get-reference-value')
    .requiredOption('--id <id>', 'reference value name')
    .action(async (f: { id: string }, cmd: Command) => {
      ctx.out(JSON.stringify(await admin(cmd).getReferenceValue(f.id)));
    });
}
