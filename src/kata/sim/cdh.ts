/**
 * The simulated guest's Confidential Data Hub, GetResource part (guest.md §2.3): a `kbs:///…`
 * resource URI maps to `GET <kbs>/kbs/v0/resource/<repo>/<type>/<tag>`; the KBS client attests
 * first (RCAR) with evidence from the guest's own Attestation Agent, reached over hybrid vsock
 * exactly as a host-side tool would, and decrypts the JWE answer with its TEE key.
 */
import { CocoonError, messageOf } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { KbsClient, type EvidenceProvider } from '../../kbs-client/index.js';
import type { KbsTee } from '../../kbs-protocol/index.js';
import { TtrpcClient, loadProtoRoot, serviceClient } from '../../ttrpc/index.js';
import { AA_PROTO, AA_SERVICE } from './attestation-agent.js';
import type { GuestEvent, GuestKbsConfig } from './guest.js';

/** The CDH of one guest. */
export interface Cdh {
  getResource(uri: string): Promise<Uint8Array>;
}

/**
 * What the guest records of its last attestation, for people following along (`cocoon demo`):
 * the binding digest, the evidence kind and size, the EAR verdict and the nonce the KBS put in
 * the token's runtime data. The token itself is a bearer credential and is never recorded.
 */
export interface AttestationTranscript {
  readonly tee: string;
  readonly runtimeDataDigest: string;
  readonly evidenceBytes: number;
  readonly nonce?: string;
  readonly earStatus?: string;
  readonly trustVector?: Readonly<Record<string, unknown>>;
  readonly tokenExpiresAt?: string;
}

function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Summarises an EAR token (status, trust vector, nonce) without keeping the token. */
export function summariseToken(
  token: string,
): Pick<AttestationTranscript, 'nonce' | 'earStatus' | 'trustVector' | 'tokenExpiresAt'> {
  const p = decodeJwtPayload(token);
  const cpu0 = ((p?.['submods'] as Record<string, unknown> | undefined)?.['cpu0'] ?? {}) as Record<
    string,
    unknown
  >;
  const ae = (cpu0['ear.veraison.annotated-evidence'] ?? {}) as Record<string, unknown>;
  const rd = (ae['runtime_data_claims'] ?? {}) as Record<string, unknown>;
  const out: {
    nonce?: string;
    earStatus?: string;
    trustVector?: Record<string, unknown>;
    tokenExpiresAt?: string;
  } = {};
  if (typeof rd['nonce'] === 'string') out.nonce = rd['nonce'];
  if (typeof cpu0['ear.status'] === 'string') out.earStatus = cpu0['ear.status'];
  if (cpu0['ear.trustworthiness-vector'] !== undefined)
    out.trustVector = cpu0['ear.trustworthiness-vector'] as Record<string, unknown>;
  if (typeof p?.['exp'] === 'number') out.tokenExpiresAt = new Date(p['exp'] * 1000).toISOString();
  return out;
}

/** Options of createCdh. */
export interface CdhOptions {
  readonly aaAddress: string;
  readonly kbs: GuestKbsConfig;
  /** The initdata TOML sent with the Attestation (KBS checks it against the bound digest). */
  readonly initDataToml?: string;
  readonly logger?: Logger;
  readonly onEvent?: (e: GuestEvent) => void;
}

/** Parses `kbs:///repo/type/tag` (host part ignored, guest.md §2.3) into the resource path. */
export function resourcePathOf(uri: string): string {
  const m = /^kbs:\/\/[^/]*\/(.+)$/.exec(uri);
  const path = m?.[1]?.split('?')[0];
  if (
    path === undefined ||
    path.split('/').length < 3 ||
    path.split('/').some((s) => !/^[A-Za-z0-9._-]+$/.test(s))
  ) {
    throw new CocoonError(
      'ERR_KATA_SIM_CONFIG_INVALID',
      `"${uri}" is not a kbs:///<repo>/<type>/<tag> resource URI`,
    );
  }
  return path;
}

/** Evidence from the guest's AA over ttrpc (GetTeeType, GetEvidence). */
export function aaEvidence(
  aaAddress: string,
  onEvidence?: (digestHex: string, bytes: number) => void,
): EvidenceProvider {
  const root = loadProtoRoot([AA_PROTO]);
  const call = async (method: string, req: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const client = await TtrpcClient.connect(aaAddress, { dial: { timeoutMs: 10_000 } });
    try {
      return await serviceClient(client, root, AA_SERVICE).call(method, req, { timeoutMs: 50_000 });
    } finally {
      client.close();
    }
  };
  return {
    async teeType() {
      return (await call('GetTeeType', {}))['tee'] as KbsTee;
    },
    async primaryEvidence(digest) {
      const r = await call('GetEvidence', { RuntimeData: Buffer.from(digest) });
      const bytes = Buffer.from(r['Evidence'] as Uint8Array);
      onEvidence?.(Buffer.from(digest).toString('hex'), bytes.length);
      return JSON.parse(bytes.toString('utf8')) as unknown;
    },
  };
}

/** Creates the CDH; the KBS client is made lazily on the first resource request. */
export function createCdh(o: CdhOptions): Cdh {
  const log = o.logger ?? silentLogger;
  let client: KbsClient | undefined;
  let lastEvidence: { digest: string; bytes: number } | undefined;
  let tee = '';
  const kbsClient = (): KbsClient => {
    if (client !== undefined) return client;
    if (o.kbs.kbsUrl === undefined) {
      throw new CocoonError(
        'ERR_KATA_SIM_CONFIG_INVALID',
        'no KBS URL: the pod initdata needs cdh.toml [kbc] url (or aa.toml [token_configs.kbs] url)',
      );
    }
    client = new KbsClient({
      url: o.kbs.kbsUrl,
      insecureHttp: o.kbs.kbsUrl.startsWith('http://'),
      ...(o.kbs.kbsCert === undefined ? {} : { ca: o.kbs.kbsCert }),
      evidence: (() => {
        const p = aaEvidence(o.aaAddress, (digest, bytes) => (lastEvidence = { digest, bytes }));
        return { teeType: async () => (tee = await p.teeType()), primaryEvidence: p.primaryEvidence };
      })(),
      ...(o.initDataToml === undefined ? {} : { initData: { format: 'toml', body: o.initDataToml } }),
    });
    return client;
  };
  return {
    async getResource(uri) {
      const path = resourcePathOf(uri);
      const c = kbsClient();
      const before = c.handshakes;
      try {
        const data = await c.getResource(path);
        if (c.handshakes > before) {
          const transcript: AttestationTranscript = {
            tee,
            runtimeDataDigest: lastEvidence?.digest ?? '',
            evidenceBytes: lastEvidence?.bytes ?? 0,
            ...summariseToken(await c.getToken()),
          };
          o.onEvent?.({ kind: 'attested', detail: { kbs: o.kbs.kbsUrl, ...transcript } });
        }
        o.onEvent?.({ kind: 'resource', detail: { uri, bytes: data.length } });
        return data;
      } catch (e) {
        log.warn({ uri, err: messageOf(e) }, 'CDH GetResource failed');
        if (e instanceof CocoonError && e.code === 'ERR_KBS_CLIENT_ATTESTATION_FAILED') {
          o.onEvent?.({
            kind: 'attestation-failed',
            detail: { uri, error: e.message, tee, runtimeDataDigest: lastEvidence?.digest },
          });
          throw new CocoonError(
            'ERR_KATA_SIM_ATTESTATION_FAILED',
            `attestation to the KBS failed: ${e.message}`,
            { cause: e },
          );
        }
        if (e instanceof CocoonError && e.code === 'ERR_KBS_CLIENT_POLICY_DENIED') {
          o.onEvent?.({
            kind: 'resource-denied',
            detail: { uri, error: e.message, tee, runtimeDataDigest: lastEvidence?.digest },
          });
        }
        throw e;
      }
    },
  };
}
