/**
 * Image security policy of the simulated guest: containers-policy.json semantics as image-rs
 * applies them (guest.md §5.2). A policy has a `default` requirement list and
 * `transports.docker.<scope>` lists; the most specific scope wins: the exact reference (with tag or
 * digest), then the repository, then each parent namespace, then the registry host, then the
 * docker transport's "" scope, then `default`. Every requirement in the chosen list must accept.
 *
 * Requirement types: `insecureAcceptAnything`, `reject`, `signedBy`, `sigstoreSigned`. The
 * simulated guest verifies no signatures yet, so the two signed types fail closed with a clear
 * reason rather than being skipped.
 */
import { CocoonError } from '../../common/errors.js';

/** One requirement of a policy list. */
export interface PolicyRequirement {
  readonly type: 'insecureAcceptAnything' | 'reject' | 'signedBy' | 'sigstoreSigned';
  readonly [k: string]: unknown;
}

/** A parsed containers-policy.json document. */
export interface ImageSecurityPolicy {
  readonly default: readonly PolicyRequirement[];
  readonly transports: Readonly<Record<string, Readonly<Record<string, readonly PolicyRequirement[]>>>>;
}

/** The decision for one image, with the scope that decided it. */
export interface ImagePolicyDecision {
  readonly allowed: boolean;
  readonly scope: string;
  readonly reason: string;
}

const KNOWN_TYPES = new Set(['insecureAcceptAnything', 'reject', 'signedBy', 'sigstoreSigned']);

function requirements(v: unknown, where: string): PolicyRequirement[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new CocoonError(
      'ERR_KATA_SIM_IMAGE_POLICY_INVALID',
      `${where} must be a non-empty array of requirements`,
    );
  }
  return v.map((r, i) => {
    if (r === null || typeof r !== 'object' || typeof (r as { type?: unknown }).type !== 'string') {
      throw new CocoonError('ERR_KATA_SIM_IMAGE_POLICY_INVALID', `${where}[${i}] needs a string "type"`);
    }
    const type = (r as { type: string }).type;
    if (!KNOWN_TYPES.has(type)) {
      throw new CocoonError(
        'ERR_KATA_SIM_IMAGE_POLICY_INVALID',
        `${where}[${i}]: unknown requirement type "${type}"`,
      );
    }
    return r as PolicyRequirement;
  });
}

/** Parses and validates a containers-policy.json document; throws ERR_KATA_SIM_IMAGE_POLICY_INVALID. */
export function parseImagePolicy(text: string | Uint8Array): ImageSecurityPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (e) {
    throw new CocoonError('ERR_KATA_SIM_IMAGE_POLICY_INVALID', 'image security policy is not valid JSON', {
      cause: e,
    });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CocoonError('ERR_KATA_SIM_IMAGE_POLICY_INVALID', 'image security policy must be a JSON object');
  }
  const o = doc as Record<string, unknown>;
  const dflt = requirements(o['default'], 'default');
  const transports: Record<string, Record<string, PolicyRequirement[]>> = {};
  const t = o['transports'];
  if (t !== undefined) {
    if (t === null || typeof t !== 'object' || Array.isArray(t)) {
      throw new CocoonError('ERR_KATA_SIM_IMAGE_POLICY_INVALID', 'transports must be an object');
    }
    for (const [name, scopes] of Object.entries(t as Record<string, unknown>)) {
      if (scopes === null || typeof scopes !== 'object' || Array.isArray(scopes)) {
        throw new CocoonError('ERR_KATA_SIM_IMAGE_POLICY_INVALID', `transports.${name} must be an object`);
      }
      transports[name] = {};
      for (const [scope, reqs] of Object.entries(scopes as Record<string, unknown>)) {
        transports[name]![scope] = requirements(reqs, `transports.${name}["${scope}"]`);
      }
    }
  }
  return { default: dflt, transports };
}

/**
 * Candidate scopes for a normalized reference "host/ns/repo[:tag|@digest]", most specific first
 * (containers-policy.json(5), docker transport).
 */
export function dockerScopes(normalizedRef: string): string[] {
  const at = normalizedRef.indexOf('@');
  let repo = at >= 0 ? normalizedRef.slice(0, at) : normalizedRef;
  const lastSlash = repo.lastIndexOf('/');
  const colon = repo.lastIndexOf(':');
  if (colon > lastSlash) repo = repo.slice(0, colon);
  const out = [normalizedRef];
  if (repo !== normalizedRef) out.push(repo);
  const parts = repo.split('/');
  for (let i = parts.length - 1; i >= 1; i--) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** Decides whether the policy admits the image `normalizedRef` (docker transport). */
export function evaluateImagePolicy(policy: ImageSecurityPolicy, normalizedRef: string): ImagePolicyDecision {
  const docker = policy.transports['docker'] ?? {};
  let scope = 'default';
  let reqs = policy.default;
  for (const s of [...dockerScopes(normalizedRef), '']) {
    const r = docker[s];
    if (r !== undefined) {
      scope = s === '' ? 'docker' : s;
      reqs = r;
      break;
    }
  }
  for (const r of reqs) {
    if (r.type === 'reject')
      return { allowed: false, scope, reason: `policy scope "${scope}" rejects ${normalizedRef}` };
    if (r.type === 'signedBy' || r.type === 'sigstoreSigned') {
      return {
        allowed: false,
        scope,
        reason: `policy scope "${scope}" requires a ${r.type} signature; the simulated guest verifies no signatures, so it refuses`,
      };
    }
  }
  return { allowed: true, scope, reason: `policy scope "${scope}" accepts anything` };
}
