/**
 * Rego-backed policy engines behind the interface of policy.ts, over src/policy's Trustee
 * contract (kbs-protocol.md §7.1, §7.2). Uploaded policies are Rego text, compiled on upload so a
 * broken policy is refused (401 ParsePolicyError, as Trustee's regorus check does); `builtin:<name>`
 * selects Cocoon's Rego equivalents of Trustee's defaults.
 */
import { CocoonError } from '../common/errors.js';
import {
  AFFIRMING_RESOURCE_POLICY,
  ALLOW_ALL_RESOURCE_POLICY,
  DEFAULT_ATTESTATION_POLICY,
  DEFAULT_GPU_ATTESTATION_POLICY,
  DEFAULT_RESOURCE_POLICY,
  DENY_ALL_RESOURCE_POLICY,
} from '../policy/default-policies.js';
import { compilePolicy } from '../policy/engine.js';
import {
  evaluateAttestationPolicy,
  evaluateResourcePolicy,
  TRUST_CLAIM_NAMES,
  type TrustVector as RegoTrustVector,
} from '../policy/trustee.js';
import { statusOf, zeroTrustVector, type TrustClaim } from '../kbs-protocol/index.js';
import {
  builtinName,
  DEFAULT_CPU_POLICY_ID,
  initialBuiltinFor,
  type Appraisal,
  type AttestationPolicyEngine,
  type AttestationPolicyInput,
  type PolicyEngines,
  type ReferenceValueQuery,
  type ResourcePolicyData,
  type ResourcePolicyEngine,
} from './policy.js';

/** Rego texts of the built-in resource policies. */
export const BUILTIN_RESOURCE_REGO: Readonly<Record<string, string>> = {
  default: DEFAULT_RESOURCE_POLICY,
  allow_all: ALLOW_ALL_RESOURCE_POLICY,
  deny_all: DENY_ALL_RESOURCE_POLICY,
  affirming: AFFIRMING_RESOURCE_POLICY,
};
/** Rego texts of the built-in attestation policies. */
export const BUILTIN_ATTESTATION_REGO: Readonly<Record<string, string>> = {
  default: DEFAULT_ATTESTATION_POLICY,
  default_gpu: DEFAULT_GPU_ATTESTATION_POLICY,
};

function resolve(text: string, builtins: Readonly<Record<string, string>>, what: string): string {
  const name = builtinName(text);
  if (name === undefined) {
    try {
      compilePolicy([{ file: `${what}.rego`, text }]);
    } catch (e) {
      throw new CocoonError('ERR_KBS_POLICY_INVALID', `${what} does not compile: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return text;
  }
  const t = builtins[name];
  if (t === undefined) throw new CocoonError('ERR_KBS_POLICY_INVALID', `unknown built-in ${what} ${name}`);
  return t;
}

function failed(what: string, e: unknown): CocoonError {
  return new CocoonError('ERR_KBS_POLICY_FAILED', `${what} evaluation failed: ${(e as Error).message}`, {
    cause: e,
  });
}

/**
 * Reference values as the record src/policy reads (`hasOwnProperty` + get), answered lazily by
 * the query function so only the ids a policy asks for are looked up.
 */
function referenceRecord(rv: ReferenceValueQuery): Readonly<Record<string, unknown>> {
  return new Proxy({} as Record<string, unknown>, {
    get: (_t, id) => (typeof id === 'string' ? rv(id) : undefined),
    getOwnPropertyDescriptor: (_t, id) => {
      if (typeof id !== 'string') return undefined;
      const v = rv(id);
      return v === undefined
        ? undefined
        : { value: v, writable: false, enumerable: true, configurable: true };
    },
    has: (_t, id) => typeof id === 'string' && rv(id) !== undefined,
  });
}

/**
 * Attestation policies in Rego; ids start as Cocoon's defaults: `*_gpu` (secondary devices of
 * class gpu) as the gpu device policy, every other id (`default_cpu`) as the CPU policy.
 */
export class RegoAttestationPolicy implements AttestationPolicyEngine {
  private readonly policies = new Map<string, string>();

  appraise(policyId: string, input: AttestationPolicyInput, rv: ReferenceValueQuery): Promise<Appraisal> {
    const text = this.policies.get(policyId) ?? BUILTIN_ATTESTATION_REGO[initialBuiltinFor(policyId)]!;
    let r;
    try {
      r = evaluateAttestationPolicy({
        policy: text,
        tee: input.tee,
        claims: input.input,
        referenceValues: referenceRecord(rv),
        trace: false,
      });
    } catch (e) {
      return Promise.reject(failed('attestation policy', e));
    }
    const tv = zeroTrustVector();
    for (const [k, wire] of Object.entries(TRUST_CLAIM_NAMES) as [keyof RegoTrustVector, TrustClaim][])
      tv[wire] = r.trustVector[k];
    // Extensions are {name, key, value} rows; the EAR submod carries value under name (§6.2).
    const extensions: Record<string, unknown> = {};
    for (const x of r.extensions) {
      if (x !== null && typeof x === 'object' && typeof (x as Record<string, unknown>)['name'] === 'string') {
        extensions[(x as Record<string, string>)['name']!] = (x as Record<string, unknown>)['value'];
      }
    }
    return Promise.resolve({ trustVector: tv, status: statusOf(tv), extensions });
  }

  setPolicy(policyId: string, text: string): Promise<void> {
    try {
      this.policies.set(policyId, resolve(text, BUILTIN_ATTESTATION_REGO, 'attestation policy'));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Resource policy in Rego; starts as Cocoon's equivalent of Trustee's default.rego. */
export class RegoResourcePolicy implements ResourcePolicyEngine {
  private text = DEFAULT_RESOURCE_POLICY;

  allow(tokenClaims: Readonly<Record<string, unknown>>, data: ResourcePolicyData): Promise<boolean> {
    try {
      const r = evaluateResourcePolicy({
        policy: this.text,
        tokenClaims,
        resourcePath: data['resource-path'].join('/'),
        plugin: data.plugin,
        query: data.query,
      });
      return Promise.resolve(r.allow);
    } catch (e) {
      return Promise.reject(failed('resource policy', e));
    }
  }

  setPolicy(text: string): Promise<void> {
    try {
      this.text = resolve(text, BUILTIN_RESOURCE_REGO, 'resource policy');
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Rego engines, optionally seeded with policy texts (Rego or builtin:<name>). */
export async function createRegoPolicyEngines(
  opts: { attestationPolicy?: string; resourcePolicy?: string } = {},
): Promise<PolicyEngines> {
  const attestation = new RegoAttestationPolicy();
  const resource = new RegoResourcePolicy();
  if (opts.attestationPolicy !== undefined)
    await attestation.setPolicy(DEFAULT_CPU_POLICY_ID, opts.attestationPolicy);
  if (opts.resourcePolicy !== undefined) await resource.setPolicy(opts.resourcePolicy);
  return { attestation, resource };
}
