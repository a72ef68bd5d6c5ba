/**
 * The /attest pipeline (kbs-protocol.md §3.8): nonce check, TEE admission, init-data digest,
 * report-data re-derivation, verification through src/attestation, appraisal through the
 * attestation policy, EAR token. Any failure is a typed error the HTTP layer maps to 401.
 */
import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { createVerifier, expected, type Verifier, type VerificationResult } from '../attestation/index.js';
import { CocoonError } from '../common/errors.js';
import {
  deviceRuntimeData,
  primaryRuntimeDigest,
  reportDataFor,
  runtimeDataDigest,
  runtimeDataClaims,
  type EarSubmod,
  type InitData,
  type KbsAttestation,
} from '../kbs-protocol/index.js';
import { DEFAULT_CPU_POLICY_ID, type Appraisal, type AttestationPolicyEngine } from './policy.js';
import type { ReferenceValueStore } from './reference-values.js';
import type { TokenBroker } from './token.js';
import type { Session } from './session.js';

/** TEEs this KBS can verify as the primary attester. */
export const VERIFIABLE_TEES = ['sample', 'tdx', 'snp'] as const;

/**
 * Secondary devices this KBS can verify in `additional_evidence`, with their TEE class (the
 * submod key is `<class><index>` and the policy `default_<class>`, kbs-protocol.md §6.2, §5.1).
 */
export const DEVICE_TEES: Readonly<Record<string, string>> = { sampledevice: 'gpu' };

/** Most devices one attestation may carry (bounds the work a client can ask for). */
export const MAX_ADDITIONAL_DEVICES = 8;

/** Options of AttestationService. */
export interface AttestationServiceOptions {
  /** Accept the sample TEE (no hardware, no signature). Default false. */
  readonly allowSample: boolean;
  /** Options per TEE handed to createVerifier (trust roots, collateral). */
  readonly verifierOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly policy: AttestationPolicyEngine;
  readonly referenceValues: ReferenceValueStore;
  readonly broker: TokenBroker;
  /** Keep additional-evidence in runtime_data_claims (Trustee verbose_token, default true). */
  readonly verboseToken?: boolean;
}

/** Result of one attestation (the token plus what the log wants). */
export interface AttestResult {
  readonly token: string;
  readonly status: string;
}

/** Plain JSON of a parsed TOML value: dates become ISO strings, big integers strings, prototypes plain. */
function tomlToJson(v: unknown, depth = 0): unknown {
  if (depth > 32) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x) => tomlToJson(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = tomlToJson(x, depth + 1);
    return out;
  }
  return v;
}

/** Digest of init-data per its own `algorithm` (kbs-protocol.md §10) plus its `data` claims. */
export function initDataDigest(initData: InitData): { digest: Buffer; claims: Record<string, unknown> } {
  // Trustee's built-in AS accepts only TOML (§3.3).
  if (initData.format !== 'toml') {
    throw new CocoonError(
      'ERR_KBS_INIT_DATA_INVALID',
      `init-data format ${JSON.stringify(initData.format)} is not "toml"`,
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(initData.body) as Record<string, unknown>;
  } catch (e) {
    throw new CocoonError('ERR_KBS_INIT_DATA_INVALID', 'init-data body is not TOML', { cause: e });
  }
  const alg = doc['algorithm'];
  if (alg !== 'sha256' && alg !== 'sha384' && alg !== 'sha512') {
    throw new CocoonError(
      'ERR_KBS_INIT_DATA_INVALID',
      'init-data algorithm must be sha256, sha384 or sha512',
    );
  }
  const data = doc['data'];
  const claims: Record<string, unknown> = {};
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      // aa.toml / cdh.toml values become JSON objects (§10); others stay text.
      if (typeof v === 'string' && k.endsWith('.toml')) {
        try {
          claims[k] = tomlToJson(parseToml(v));
          continue;
        } catch {
          // keep as text when it is not TOML
        }
      }
      claims[k] = tomlToJson(v);
    }
  }
  return { digest: createHash(alg).update(initData.body, 'utf8').digest(), claims };
}

/** An EAR submod from an appraisal and its annotated evidence (kbs-protocol.md §6.2). */
function submodOf(appraisal: Appraisal, annotated: Record<string, unknown>): EarSubmod {
  return {
    'ear.status': appraisal.status,
    'ear.trustworthiness-vector': appraisal.trustVector,
    'ear.appraisal-policy-id': 'default',
    'ear.veraison.annotated-evidence': annotated,
    ...appraisal.extensions,
  };
}

/** ERR_KBS_EVIDENCE_REJECTED naming the first failure, with every failure's code and stage. */
function rejected(what: string, result: VerificationResult, details: Record<string, unknown>): CocoonError {
  return new CocoonError(
    'ERR_KBS_EVIDENCE_REJECTED',
    `${what} rejected: ${result.failures[0]?.code ?? 'invalid'}`,
    {
      details: { ...details, failures: result.failures.map((f) => ({ code: f.code, stage: f.stage })) },
    },
  );
}

/** Runs attestations. */
export class AttestationService {
  private readonly opts: AttestationServiceOptions;
  private readonly verifiers = new Map<string, Verifier>();

  constructor(opts: AttestationServiceOptions) {
    this.opts = opts;
  }

  private verifierFor(tee: string): Verifier {
    if (tee === 'sample' && !this.opts.allowSample) {
      throw new CocoonError(
        'ERR_KBS_TEE_NOT_ALLOWED',
        'the sample TEE is refused (start the KBS with --allow-sample)',
      );
    }
    if (!(VERIFIABLE_TEES as readonly string[]).includes(tee)) {
      throw new CocoonError('ERR_KBS_TEE_NOT_ALLOWED', `TEE ${tee} is not verifiable by this KBS`);
    }
    return this.cachedVerifier(tee);
  }

  /** The verifier of `tee`, made once with its configured options (admission is the caller's). */
  private cachedVerifier(tee: string): Verifier {
    let v = this.verifiers.get(tee);
    if (v === undefined) {
      try {
        v = createVerifier(tee, this.opts.verifierOptions[tee] ?? {});
      } catch (e) {
        throw new CocoonError('ERR_KBS_TEE_NOT_ALLOWED', `no verifier for TEE ${tee}`, { cause: e });
      }
      this.verifiers.set(tee, v);
    }
    return v;
  }

  /** Checks at /auth time that the TEE can be attested at all (fail early, fail closed). */
  admit(tee: string): void {
    this.verifierFor(tee);
  }

  /** Verifies an Attestation for an authed session (whose challenge the caller consumed). */
  async attest(session: Session, att: KbsAttestation): Promise<AttestResult> {
    const tee = session.request.tee;
    const verifier = this.verifierFor(tee);
    const rt = att['runtime-data'];
    if (rt.nonce !== session.nonce) {
      throw new CocoonError(
        'ERR_KBS_NONCE_MISMATCH',
        'runtime-data.nonce differs from the session challenge',
      );
    }
    const ev = att['tee-evidence'];
    // Devices are parsed and admitted before any verification: an unknown device fails fast.
    const devices = this.parseDevices(ev.additional_evidence);
    const primary = ev.primary_evidence;
    if (primary === null || typeof primary !== 'object' || Array.isArray(primary)) {
      throw new CocoonError('ERR_KBS_EVIDENCE_REJECTED', 'primary_evidence must be a JSON object');
    }
    const init = att['init-data'] === undefined ? undefined : initDataDigest(att['init-data']);
    // Re-derive the binding from the session's nonce, the posted key and additional-evidence (§3.5).
    const digest = primaryRuntimeDigest(session.nonce, rt['tee-pubkey'], ev.additional_evidence);
    const result = await verifier.verify({
      evidence: primary as Record<string, unknown>,
      reportData: expected.value(reportDataFor(tee, digest)),
      initDataHash: init === undefined ? expected.notProvided() : expected.value(init.digest),
    });
    if (result.verdict !== 'valid') throw rejected('evidence', result, {});
    const annotated: Record<string, unknown> = {
      ...result.claims,
      runtime_data_claims: runtimeDataClaims(
        session.nonce,
        rt['tee-pubkey'],
        ev.additional_evidence,
        this.opts.verboseToken ?? true,
      ),
    };
    if (init !== undefined) annotated['init_data_claims'] = init.claims;
    const appraisal = await this.opts.policy.appraise(
      DEFAULT_CPU_POLICY_ID,
      { tee, input: annotated },
      (id) => this.opts.referenceValues.query(id),
    );
    const submods: Record<string, EarSubmod> = { cpu0: submodOf(appraisal, annotated) };
    const perClass = new Map<string, number>();
    for (const d of devices) {
      const index = perClass.get(d.cls) ?? 0;
      perClass.set(d.cls, index + 1);
      submods[`${d.cls}${index}`] = await this.attestDevice(session, rt['tee-pubkey'], d);
    }
    return { token: await this.opts.broker.issueAsync(submods), status: appraisal.status };
  }

  /**
   * `additional_evidence` (§3.2): "" or the JSON text of an object mapping device TEE name to that
   * device's evidence. Every device must be one this KBS verifies and is allowed to trust.
   */
  private parseDevices(text: string): { tee: string; cls: string; evidence: Record<string, unknown> }[] {
    if (text === '') return [];
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new CocoonError('ERR_KBS_EVIDENCE_REJECTED', 'additional_evidence is not JSON text', {
        cause: e,
      });
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new CocoonError(
        'ERR_KBS_EVIDENCE_REJECTED',
        'additional_evidence must be a JSON object of device TEE name to evidence',
      );
    }
    const entries = Object.entries(doc as Record<string, unknown>);
    if (entries.length === 0 || entries.length > MAX_ADDITIONAL_DEVICES) {
      throw new CocoonError(
        'ERR_KBS_EVIDENCE_REJECTED',
        `additional_evidence must name 1..${MAX_ADDITIONAL_DEVICES} devices (send "" for none)`,
      );
    }
    return entries.map(([tee, evidence]) => {
      const cls = Object.hasOwn(DEVICE_TEES, tee) ? DEVICE_TEES[tee] : undefined;
      if (cls === undefined) {
        throw new CocoonError(
          'ERR_KBS_TEE_NOT_ALLOWED',
          `device TEE ${tee.slice(0, 64)} is not verifiable by this KBS`,
        );
      }
      if (tee === 'sampledevice' && !this.opts.allowSample) {
        throw new CocoonError(
          'ERR_KBS_TEE_NOT_ALLOWED',
          'the sample device is refused (start the KBS with --allow-sample)',
        );
      }
      if (evidence === null || typeof evidence !== 'object' || Array.isArray(evidence)) {
        throw new CocoonError('ERR_KBS_EVIDENCE_REJECTED', `evidence of device ${tee} must be a JSON object`);
      }
      return { tee, cls, evidence: evidence as Record<string, unknown> };
    });
  }

  /**
   * One secondary device: its report data binds {nonce, tee-pubkey} (§3.5 step 1, no
   * additional-evidence member), it is appraised by `default_<class>`, and it becomes a submod.
   */
  private async attestDevice(
    session: Session,
    teePubKey: KbsAttestation['runtime-data']['tee-pubkey'],
    d: { tee: string; cls: string; evidence: Record<string, unknown> },
  ): Promise<EarSubmod> {
    const verifier = this.cachedVerifier(d.tee);
    const digest = runtimeDataDigest(deviceRuntimeData(session.nonce, teePubKey));
    const result = await verifier.verify({
      evidence: d.evidence,
      reportData: expected.value(reportDataFor(d.tee, digest)),
      initDataHash: expected.notProvided(),
    });
    if (result.verdict !== 'valid') throw rejected(`evidence of device ${d.tee}`, result, { device: d.tee });
    const annotated: Record<string, unknown> = {
      ...result.claims,
      runtime_data_claims: { nonce: session.nonce, 'tee-pubkey': teePubKey },
    };
    const appraisal = await this.opts.policy.appraise(
      `default_${d.cls}`,
      { tee: d.tee, input: annotated },
      (id) => this.opts.referenceValues.query(id),
    );
    return submodOf(appraisal, annotated);
  }
}
