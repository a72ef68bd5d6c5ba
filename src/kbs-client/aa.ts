/**
 * The Attestation Agent over ttrpc (guest.md §1, §0): an evidence provider (GetTeeType +
 * GetEvidence with the runtime digest as RuntimeData) and a passport token provider
 * (GetToken("kbs") → `{"token", "tee_keypair"}` with the private key as PEM, kbs-protocol.md §9.1).
 * Addresses are transport addresses: unix:///…, vsock://CID:PORT or hvsock:///path:PORT.
 */
import { CocoonError, isCocoonError } from '../common/errors.js';
import { isKbsTee, type KbsTee } from '../kbs-protocol/index.js';
import { loadProtoRoot, serviceClient, TtrpcClient, type ServiceClient } from '../ttrpc/index.js';
import type { EvidenceProvider } from './evidence-provider.js';
import type { TokenProvider } from './client.js';
import { teeKeyFromPem } from './tee-key.js';

/** Fully qualified AA service name (guest.md §1.2). */
export const AA_SERVICE = 'attestation_agent.AttestationAgentService';
/** The proto file, relative to proto/. */
export const AA_PROTO = 'attestation-agent/attestation-agent.proto';
/** Per-call timeout (guest-components clients use 50 s, guest.md §0). */
export const DEFAULT_AA_TIMEOUT_MS = 50_000;
/** Default AA socket inside a guest (guest.md §1.1). */
export const DEFAULT_AA_ADDRESS =
  'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock';
/** Largest evidence/token reply accepted from the AA (bytes). */
export const AA_MAX_REPLY_BYTES = 8 * 1024 * 1024;

/** Options of the AA client. */
export interface AaClientOptions {
  /** Transport address; default DEFAULT_AA_ADDRESS. */
  readonly address?: string;
  /** Per-call timeout; default DEFAULT_AA_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

function aaError(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KBS_CLIENT_AA_FAILED', message, cause === undefined ? {} : { cause });
}

/** A thin typed client of the AA service; one connection, reused. */
export class AttestationAgentClient {
  private readonly address: string;
  private readonly timeoutMs: number;
  private conn: Promise<{ client: TtrpcClient; svc: ServiceClient }> | undefined;

  constructor(opts: AaClientOptions = {}) {
    this.address = opts.address ?? DEFAULT_AA_ADDRESS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_AA_TIMEOUT_MS;
  }

  private connect(): Promise<{ client: TtrpcClient; svc: ServiceClient }> {
    if (this.conn === undefined) {
      this.conn = (async () => {
        const root = loadProtoRoot([AA_PROTO]);
        const client = await TtrpcClient.connect(this.address, { dial: { timeoutMs: this.timeoutMs } });
        return { client, svc: serviceClient(client, root, AA_SERVICE) };
      })();
      this.conn.catch(() => (this.conn = undefined));
    }
    return this.conn;
  }

  private async call(method: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
    let c;
    try {
      c = await this.connect();
    } catch (e) {
      throw aaError(`cannot reach the Attestation Agent at ${this.address}`, e);
    }
    try {
      return await c.svc.call(method, req, { timeoutMs: this.timeoutMs });
    } catch (e) {
      // A closed connection is dropped so the next call redials (api-server-rest reconnects once too).
      if (c.client.isClosed) this.conn = undefined;
      throw aaError(`AA ${method} failed${isCocoonError(e) ? `: ${e.message}` : ''}`, e);
    }
  }

  /** GetTeeType: the primary TEE's kbs-types name. */
  async getTeeType(): Promise<KbsTee> {
    const r = await this.call('GetTeeType', {});
    const tee = r['tee'];
    if (!isKbsTee(tee))
      throw aaError(`AA reported an unknown TEE ${JSON.stringify(String(tee).slice(0, 32))}`);
    return tee;
  }

  /** GetEvidence: the primary attester's evidence JSON for RuntimeData. */
  async getEvidence(runtimeData: Uint8Array): Promise<unknown> {
    const r = await this.call('GetEvidence', { RuntimeData: Buffer.from(runtimeData) });
    return parseJsonBytes(r['Evidence'], 'Evidence');
  }

  /** GetToken("kbs"): a KBS token and the TEE key pair it names. */
  async getKbsToken(): Promise<{ token: string; teeKeyPem: string }> {
    const r = await this.call('GetToken', { TokenType: 'kbs' });
    const v = parseJsonBytes(r['Token'], 'Token');
    if (v === null || typeof v !== 'object') throw aaError('AA token reply is not a JSON object');
    const o = v as Record<string, unknown>;
    const token = o['token'];
    const key = o['tee_keypair'];
    if (typeof token !== 'string' || typeof key !== 'string')
      throw aaError('AA token reply lacks token / tee_keypair');
    return { token, teeKeyPem: key };
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c !== undefined) await (await c.catch(() => undefined))?.client.close();
  }
}

function parseJsonBytes(v: unknown, what: string): unknown {
  if (!(v instanceof Uint8Array)) throw aaError(`AA ${what} is not bytes`);
  if (v.length > AA_MAX_REPLY_BYTES) throw aaError(`AA ${what} exceeds ${AA_MAX_REPLY_BYTES} bytes`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(v)) as unknown;
  } catch (e) {
    throw aaError(`AA ${what} is not UTF-8 JSON`, e);
  }
}

/** Evidence provider backed by an AA (background-check mode). */
export function aaEvidenceProvider(aa: AttestationAgentClient): EvidenceProvider {
  let tee: Promise<KbsTee> | undefined;
  return {
    teeType: () =>
      (tee ??= aa.getTeeType().catch((e: unknown) => {
        tee = undefined;
        throw e;
      })),
    // The AA pads RuntimeData to the TEE field itself (guest.md §1.5), so the raw digest goes in.
    primaryEvidence: (digest) => aa.getEvidence(digest),
  };
}

/** Token provider backed by an AA's GetToken("kbs") (passport mode). */
export function aaTokenProvider(aa: AttestationAgentClient): TokenProvider {
  return {
    async getToken() {
      const t = await aa.getKbsToken();
      return { token: t.token, teeKey: teeKeyFromPem(t.teeKeyPem) };
    },
  };
}
