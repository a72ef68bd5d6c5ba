/**
 * Real TDX claims for policy tests and the policy benchmark: Trustee's parsed claims of its TDX
 * quote plus the CCEL event log of its OVMF fixture (../shared/evidence), annotated as the
 * verifier does for a quote whose collateral is current (debug off, UpToDate, fresh collateral),
 * and the reference values that make the default policy reach executables 3, hardware 2 and
 * configuration 2 — the kernel and command-line digests taken from the event log.
 */
import { readFileSync } from 'node:fs';
import { sharedPath } from './shared.js';

type Json = Record<string, unknown>;

/** One UEFI event as Trustee's claims spell it. */
export interface UefiEvent {
  type_name: string;
  details: { device_paths?: string[]; string?: string };
  digests: { digest: string }[];
}

/** The claims (as `input.tdx`) and the matching reference values by id. */
export function tdxPolicyFixture(): { claims: Json; rvs: Record<string, unknown[]> } {
  const base = JSON.parse(
    readFileSync(sharedPath('evidence', 'tdx', 'trustee', 'parse-tdx-claims-expected.json'), 'utf8'),
  ) as Json;
  const events = (
    JSON.parse(
      readFileSync(sharedPath('evidence', 'eventlog', 'trustee-ccel-ovmf.expected.json'), 'utf8'),
    ) as {
      uefi_event_logs: UefiEvent[];
    }
  ).uefi_event_logs;
  const claims: Json = {
    ...base,
    td_attributes: { ...(base['td_attributes'] as Json), debug: false },
    uefi_event_logs: events,
    tcb_status: 'UpToDate',
    collateral_expiration_status: '0',
  };
  const body = (base['quote'] as { body: Record<string, string> }).body;
  const kernel = events.find(
    (e) =>
      e.type_name === 'EV_EFI_BOOT_SERVICES_APPLICATION' && e.details.device_paths?.includes('File(kernel)'),
  )!;
  const params = events.find(
    (e) => e.type_name === 'EV_EVENT_TAG' && e.details.string === 'LOADED_IMAGE::LoadOptions',
  )!;
  return {
    claims,
    rvs: {
      rtmr_1: [body['rtmr_1']],
      rtmr_2: [body['rtmr_2']],
      mr_td: [body['mr_td']],
      xfam: [body['xfam']],
      tdvfkernel: [kernel.digests[0]!.digest],
      tdvfkernelparams: [params.digests[0]!.digest],
    },
  };
}
