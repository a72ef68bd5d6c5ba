/**
 * The simulated guest's Attestation Agent: `attestation_agent.AttestationAgentService` over
 * ttrpc (guest.md §1.2), listening on hybrid vsock so host-side tools reach it the way they reach
 * a Cloud Hypervisor / Firecracker guest (`hvsock://<socket>:<port>`).
 *
 * GetEvidence binds the caller's RuntimeData into the simulated quote/report; GetTeeType names the
 * TEE; GetToken("kbs") is answered with NOT_FOUND-style "not supported" because the simulated AA
 * keeps no KBS configuration of its own (the CDH attests through GetEvidence instead);
 * GetAdditionalEvidence returns empty bytes (no additional devices), as upstream does.
 */
import { CocoonError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { TtrpcServer, loadProtoRoot, serveService } from '../../ttrpc/index.js';
import type { Attester } from './attester.js';

/** Fully-qualified ttrpc service name (guest.md §1.1). */
export const AA_SERVICE = 'attestation_agent.AttestationAgentService';
/** Our wire-compatible proto, relative to proto/. */
export const AA_PROTO = 'attestation-agent/attestation-agent.proto';

/** A running AA. */
export interface AttestationAgent {
  readonly address: string;
  close(): Promise<void>;
}

/** Options of startAttestationAgent. */
export interface AttestationAgentOptions {
  /** Listen address (hvsock://…:PORT, unix://…). */
  readonly address: string;
  readonly attester: Attester;
  readonly logger?: Logger;
}

/** Starts the AA ttrpc server. */
export async function startAttestationAgent(o: AttestationAgentOptions): Promise<AttestationAgent> {
  const log = o.logger ?? silentLogger;
  const server = new TtrpcServer({ logger: log });
  serveService(server, loadProtoRoot([AA_PROTO]), AA_SERVICE, {
    async GetEvidence(req) {
      const rd = Buffer.from((req['RuntimeData'] as Uint8Array | undefined) ?? new Uint8Array(0));
      const evidence = await o.attester.evidence(rd);
      log.debug({ tee: o.attester.tee, runtimeDataBytes: rd.length }, 'AA GetEvidence');
      return { Evidence: Buffer.from(JSON.stringify(evidence)) };
    },
    GetAdditionalEvidence() {
      return Promise.resolve({ Evidence: Buffer.alloc(0) });
    },
    GetTeeType() {
      return Promise.resolve({ tee: o.attester.tee });
    },
    GetToken(req) {
      return Promise.reject(
        new CocoonError(
          'ERR_KATA_SIM_NOT_FOUND',
          `GetToken(${String(req['TokenType'])}) is not supported by the simulated Attestation Agent`,
        ),
      );
    },
  });
  const l = await server.listen(o.address);
  return {
    address: o.address,
    async close() {
      await server.close();
      await l.close().catch(() => undefined);
    },
  };
}
