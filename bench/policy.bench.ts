/**
 * Default attestation policy (Rego, through evaluateAttestationPolicy) on TDX claims, next to the
 * same decision written directly in TypeScript, in the same run. Goal: Rego ≤ 20× the cost of
 * the hand-written check (issue 6 "Benchmark"), measured as the KBS calls it (`trace: false`);
 * the traced evaluation `cocoon policy eval` runs (rule attribution on) is reported next to it.
 */
import { measure, report } from './harness.js';
import {
  DEFAULT_ATTESTATION_POLICY,
  evaluateAttestationPolicy,
  statusOf,
  type TrustVector,
} from '../src/policy/trustee.js';
import { tdxPolicyFixture, type UefiEvent as Ev } from '../test/helpers/tdx-policy-fixture.js';

type Json = Record<string, unknown>;

/** The TDX block of the default policy, by hand (kbs-protocol.md §7.1), reading the claims directly. */
function handWritten(claims: Json, rvs: Record<string, unknown[]>): { status: string; tv: TrustVector } {
  const tdx = claims as unknown as {
    quote: { header: Record<string, string>; body: Record<string, string> };
    td_attributes: { debug: boolean };
    uefi_event_logs?: Ev[];
    tcb_status?: string;
    collateral_expiration_status?: string;
  };
  const match = (v: unknown, id: string): boolean => (rvs[id] ?? []).includes(v);
  const body = tdx.quote.body;
  const rtmrs = match(body['rtmr_1'], 'rtmr_1') && match(body['rtmr_2'], 'rtmr_2');
  const events = tdx.uefi_event_logs ?? [];
  const kernel = events.some(
    (e) =>
      e.type_name === 'EV_EFI_BOOT_SERVICES_APPLICATION' &&
      (e.details.device_paths ?? []).includes('File(kernel)') &&
      e.digests.some((d) => match(d.digest, 'tdvfkernel')),
  );
  const params = events.some(
    (e) =>
      e.type_name === 'EV_EVENT_TAG' &&
      e.details.string === 'LOADED_IMAGE::LoadOptions' &&
      e.digests.some((d) => match(d.digest, 'tdvfkernelparams')),
  );
  const tv: TrustVector = {
    instance_identity: 0,
    configuration: 36,
    executables: 33,
    file_system: 0,
    hardware: 97,
    runtime_opaque: 0,
    storage_opaque: 0,
    sourced_data: 0,
  };
  if (rtmrs) tv.executables = kernel && params ? 3 : 4;
  if (
    tdx.quote.header['tee_type'] === '81000000' &&
    tdx.quote.header['vendor_id'] === '939a7233f79c4ca9940a0db3957f0607' &&
    match(body['mr_td'], 'mr_td') &&
    tdx.tcb_status === 'UpToDate' &&
    tdx.collateral_expiration_status === '0'
  ) {
    tv.hardware = 2;
  }
  if (tdx.td_attributes.debug === false && match(body['xfam'], 'xfam')) tv.configuration = 2;
  return { status: statusOf(tv), tv };
}

export default async function (): Promise<void> {
  const { claims, rvs } = tdxPolicyFixture();
  const rego = evaluateAttestationPolicy({
    policy: DEFAULT_ATTESTATION_POLICY,
    tee: 'tdx',
    claims,
    referenceValues: rvs,
  });
  const ts = handWritten(claims, rvs);
  if (rego.status !== ts.status || JSON.stringify(rego.trustVector) !== JSON.stringify(ts.tv)) {
    throw new Error(`Rego and TypeScript disagree: ${JSON.stringify(rego)} vs ${JSON.stringify(ts)}`);
  }
  const untraced = evaluateAttestationPolicy({
    policy: DEFAULT_ATTESTATION_POLICY,
    tee: 'tdx',
    claims,
    referenceValues: rvs,
    trace: false,
  });
  if (JSON.stringify({ ...untraced, rules: [] }) !== JSON.stringify({ ...rego, rules: [] })) {
    throw new Error('trace: false changed the appraisal');
  }
  const opts = { maxOps: 200_000, maxMs: 6000, warmup: 500 };
  const baseline = await measure('TypeScript check (TDX claims)', () => handWritten(claims, rvs), opts);
  const subject = await measure(
    'Rego default policy, trace off (TDX claims)',
    () =>
      evaluateAttestationPolicy({
        policy: DEFAULT_ATTESTATION_POLICY,
        tee: 'tdx',
        claims,
        referenceValues: rvs,
        trace: false,
      }),
    opts,
  );
  report('policy: default attestation policy as the KBS runs it, evaluations/s', subject, baseline, 20);
  const traced = await measure(
    'Rego default policy, traced (TDX claims)',
    () =>
      evaluateAttestationPolicy({
        policy: DEFAULT_ATTESTATION_POLICY,
        tee: 'tdx',
        claims,
        referenceValues: rvs,
      }),
    opts,
  );
  report('policy: default attestation policy with rule attribution (CLI), evaluations/s', traced, baseline);
}
