/**
 * The simulated guest's attester: what the Attestation Agent's GetEvidence returns (guest.md §1.2,
 * §1.5). Evidence comes from the attestation module's simulated TDX/SNP generators, so it has the
 * real quote/report layout, signed by the test hierarchies; the runtime data (the KBS binding
 * digest) goes into REPORTDATA / REPORT_DATA zero-padded to 64 bytes, and the init-data digest
 * into MRCONFIGID (TDX, 48 bytes) or HOSTDATA (SNP, 32 bytes), as a real TEE would bind them.
 *
 * The launch measurement (MRTD / SNP MEASUREMENT) is derived from the "firmware" the sandbox
 * asked for (`io.katacontainers.config.hypervisor.firmware`), so a pod that boots other
 * firmware measures differently and a KBS policy with reference values refuses it.
 */
import { createHash } from 'node:crypto';
import { generateSimSnpReport } from '../../attestation/snp/sim.js';
import { generateSimTdxQuote } from '../../attestation/tdx/sim.js';
import { CocoonError } from '../../common/errors.js';

/** The TEEs the simulated guest can impersonate. */
export type SimTee = 'tdx' | 'snp';

/** Firmware path measured when the pod does not choose one. */
export const DEFAULT_SIM_FIRMWARE = '/usr/share/cocoon/sim/OVMF.inteltdx.fd';

/** Produces evidence for one simulated confidential VM. */
export interface Attester {
  readonly tee: SimTee;
  /** The launch measurement this VM reports (hex). */
  readonly measurementHex: string;
  /** Evidence JSON (Trustee's wire shape) bound to `runtimeData` (≤ 64 bytes). */
  evidence(runtimeData: Uint8Array): Promise<Record<string, unknown>>;
}

/** Options of createAttester. */
export interface AttesterOptions {
  readonly tee: SimTee;
  /** Init-data digest bound at launch (MRCONFIGID / HOSTDATA); absent = zero. */
  readonly initDataDigest?: Uint8Array;
  /** Firmware path, measured into MRTD / MEASUREMENT. */
  readonly firmware?: string;
  /** Boot a debug TD / debug SNP guest. */
  readonly debug?: boolean;
}

/** The measurement a simulated VM reports for `firmware` (48 bytes: SHA-384 of a tagged path). */
export function simMeasurement(tee: SimTee, firmware = DEFAULT_SIM_FIRMWARE): Buffer {
  return createHash('sha384').update(`cocoon-sim-${tee}-firmware:${firmware}`).digest();
}

function fit(b: Uint8Array | undefined, size: number): Buffer {
  const out = Buffer.alloc(size);
  if (b !== undefined) Buffer.from(b).copy(out, 0, 0, Math.min(size, b.length));
  return out;
}

/** Creates the attester of one simulated VM. */
export function createAttester(o: AttesterOptions): Attester {
  const measurement = simMeasurement(o.tee, o.firmware);
  if (o.tee !== 'tdx' && o.tee !== 'snp') {
    throw new CocoonError(
      'ERR_KATA_SIM_CONFIG_INVALID',
      `simulated guest TEE must be tdx or snp, got "${String(o.tee)}"`,
    );
  }
  return {
    tee: o.tee,
    measurementHex: measurement.toString('hex'),
    evidence(runtimeData) {
      if (runtimeData.length > 64) {
        return Promise.reject(
          new CocoonError(
            'ERR_KATA_SIM_CONFIG_INVALID',
            `runtime data is ${runtimeData.length} bytes; at most 64 fit`,
          ),
        );
      }
      const reportData = fit(runtimeData, 64);
      if (o.tee === 'snp') {
        const r = generateSimSnpReport({
          reportData,
          hostData: fit(o.initDataDigest, 32),
          measurement,
          ...(o.debug === true ? { debug: true } : {}),
        });
        return Promise.resolve(r.evidence);
      }
      const q = generateSimTdxQuote({
        reportData,
        mrConfigId: fit(o.initDataDigest, 48),
        mrTd: measurement,
        ...(o.debug === true ? { debug: true } : {}),
      });
      return Promise.resolve({ quote: Buffer.from(q.quote).toString('base64'), cc_eventlog: null });
    },
  };
}
