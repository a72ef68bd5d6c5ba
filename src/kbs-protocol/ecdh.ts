/**
 * Elliptic-curve Diffie-Hellman for ECDH-ES+A256KW (RFC 7518 §4.6) on raw points, off the event
 * loop when the machine has a core to spare.
 *
 * Why raw points and `createECDH`: importing a JWK into a KeyObject runs OpenSSL's full key check
 * (a scalar multiplication by the group order) and costs about as much as the ECDH itself;
 * `ECDH.computeSecret` decodes the peer point with the on-curve check only, which is what the
 * protocol needs (P-256 and P-521 have cofactor 1, so an on-curve point cannot leak bits of the
 * private scalar through a small subgroup). Why a worker thread: node:crypto has no asynchronous
 * ECDH in Node 20, and one P-256 ECDH is ~100 µs of event-loop time, the cost of an HTTP round
 * trip; a KBS serving many handshakes spends most of its loop there. The worker is one thread,
 * started on first use, unreferenced while idle (it never keeps a process alive), and every job
 * falls back to the calling thread if the worker fails, so offloading can only change speed.
 */
import { createECDH, ECDH } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CocoonError } from '../common/errors.js';

/**
 * JOSE curve names (RFC 7518 §6.2.1.1, RFC 8812 §3.1). A tee-pubkey is P-256 or P-521
 * (kbs-protocol.md §3.4); decryption also meets P-384 in the RFC 7520 §5 vectors.
 */
export type EcCurve = 'P-256' | 'P-384' | 'P-521' | 'secp256k1';

/** OpenSSL names of the JOSE curves. */
export const OPENSSL_CURVE: Readonly<Record<EcCurve, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  secp256k1: 'secp256k1',
};

/** Coordinate length in bytes per curve (fixed-length big-endian, RFC 7518 §6.2.1.2). */
export const EC_CURVE_COORD_BYTES: Readonly<Record<EcCurve, number>> = {
  'P-256': 32,
  'P-384': 48,
  'P-521': 66,
  secp256k1: 32,
};

/** An EC private key as its raw scalar (fixed-length big-endian) and curve. */
export interface RawEcPrivateKey {
  readonly curve: EcCurve;
  readonly d: Buffer;
}

/** The result of an ephemeral-static agreement: our fresh public point and the shared secret Z. */
export interface EphemeralAgreement {
  /** Uncompressed SEC 1 point (0x04 || X || Y) of the ephemeral key. */
  readonly publicPoint: Buffer;
  readonly z: Buffer;
}

/** Where ECDH runs. Both operations reject with a typed error on a point that is not on the curve. */
export interface EcdhEngine {
  /** Z = ECDH(d, peer) for our private scalar `d` and an uncompressed peer point. */
  derive(curve: EcCurve, privateScalar: Buffer, peerPoint: Buffer): Promise<Buffer>;
  /** A fresh key pair on `curve` and its Z with the peer point (JWE ECDH-ES sender side). */
  ephemeral(curve: EcCurve, peerPoint: Buffer): Promise<EphemeralAgreement>;
}

function invalidPoint(cause?: unknown): CocoonError {
  return new CocoonError(
    'ERR_KBS_PROTOCOL_JWK_INVALID',
    'EC public key is not a point on its curve',
    cause === undefined ? {} : { cause },
  );
}

/**
 * Checks that `point` is an uncompressed point (0x04 || X || Y, fixed-length coordinates) on
 * `curve`. Cheap: no scalar multiplication. The length check also refuses the one-byte encoding
 * of the point at infinity, which OpenSSL's decoder accepts.
 */
export function assertOnCurve(curve: EcCurve, point: Buffer): void {
  if (point.length !== 1 + 2 * EC_CURVE_COORD_BYTES[curve] || point[0] !== 0x04) throw invalidPoint();
  // A handshake checks the same TEE key at /attest and at every GET: remember points that passed
  // (a pure function of the bytes; failures are never remembered).
  const id = `${curve}:${point.toString('base64')}`;
  if (onCurvePoints.has(id)) return;
  try {
    ECDH.convertKey(point, OPENSSL_CURVE[curve], undefined, undefined, 'uncompressed');
  } catch (e) {
    throw invalidPoint(e);
  }
  if (onCurvePoints.size >= ON_CURVE_MEMO_MAX) onCurvePoints.delete(onCurvePoints.values().next().value!);
  onCurvePoints.add(id);
}

/** Bound of assertOnCurve's memo of valid points (FIFO eviction). */
export const ON_CURVE_MEMO_MAX = 4096;
const onCurvePoints = new Set<string>();

/** Z = ECDH(d, peer) on the calling thread; ERR_KBS_PROTOCOL_JWK_INVALID for a point off the curve. */
export function deriveSync(curve: EcCurve, d: Buffer, peer: Buffer): Buffer {
  const e = createECDH(OPENSSL_CURVE[curve]);
  e.setPrivateKey(d);
  try {
    return e.computeSecret(peer);
  } catch (err) {
    throw invalidPoint(err);
  }
}

/** A fresh key pair and its Z with `peer`, on the calling thread; typed error off the curve. */
export function ephemeralSync(curve: EcCurve, peer: Buffer): EphemeralAgreement {
  const e = createECDH(OPENSSL_CURVE[curve]);
  const publicPoint = e.generateKeys();
  try {
    return { publicPoint, z: e.computeSecret(peer) };
  } catch (err) {
    throw invalidPoint(err);
  }
}

/** ECDH on the calling thread. */
export const inlineEcdh: EcdhEngine = {
  derive: (curve, d, peer) => new Promise((resolve) => resolve(deriveSync(curve, d, peer))),
  ephemeral: (curve, peer) => new Promise((resolve) => resolve(ephemeralSync(curve, peer))),
};

/**
 * The worker's whole program (CommonJS, evaluated in the worker): it answers each job with the
 * shared secret or with `bad: true` for a point off the curve. Kept as source text so the same
 * code runs from `dist/` and under tsx without a second entry file.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createECDH } = require('node:crypto');
parentPort.on('message', (m) => {
  try {
    const e = createECDH(m.curve);
    let pub;
    if (m.d) e.setPrivateKey(m.d); else pub = e.generateKeys();
    parentPort.postMessage({ id: m.id, z: e.computeSecret(m.peer), pub });
  } catch (err) {
    parentPort.postMessage({ id: m.id, bad: true });
  }
});
`;

interface Job {
  readonly curve: EcCurve;
  readonly d: Buffer | undefined;
  readonly peer: Buffer;
  readonly resolve: (r: EphemeralAgreement) => void;
  readonly reject: (e: unknown) => void;
}

interface Reply {
  readonly id: number;
  readonly z?: Uint8Array;
  readonly pub?: Uint8Array;
  readonly bad?: boolean;
}

/** An EcdhEngine backed by one worker thread; `close()` ends it. */
export interface WorkerEcdhEngine extends EcdhEngine {
  close(): Promise<void>;
}

/** Starts (lazily) a one-thread ECDH worker. Jobs fall back to the calling thread if it fails. */
export function workerEcdh(): WorkerEcdhEngine {
  let worker: Worker | undefined;
  let broken = false;
  let nextId = 1;
  const pending = new Map<number, Job>();

  const runHere = (j: Job): void => {
    try {
      j.resolve(
        j.d === undefined
          ? ephemeralSync(j.curve, j.peer)
          : { publicPoint: Buffer.alloc(0), z: deriveSync(j.curve, j.d, j.peer) },
      );
    } catch (e) {
      j.reject(e);
    }
  };
  // A dead worker hands its unanswered jobs back to the calling thread.
  const fail = (): void => {
    broken = true;
    worker = undefined;
    const jobs = [...pending.values()];
    pending.clear();
    for (const j of jobs) runHere(j);
  };
  const start = (): Worker | undefined => {
    if (worker !== undefined || broken) return worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (m: Reply) => {
        const j = pending.get(m.id);
        if (j === undefined) return;
        pending.delete(m.id);
        if (pending.size === 0) w.unref();
        if (m.bad === true || m.z === undefined) j.reject(invalidPoint());
        else j.resolve({ publicPoint: Buffer.from(m.pub ?? new Uint8Array(0)), z: Buffer.from(m.z) });
      });
      w.on('error', fail);
      w.on('exit', () => {
        if (worker === w) fail();
      });
      worker = w;
    } catch {
      broken = true;
    }
    return worker;
  };
  const submit = (curve: EcCurve, d: Buffer | undefined, peer: Buffer): Promise<EphemeralAgreement> =>
    new Promise((resolve, reject) => {
      const job: Job = { curve, d, peer, resolve, reject };
      const w = start();
      if (w === undefined) {
        runHere(job);
        return;
      }
      const id = nextId++;
      if (pending.size === 0) w.ref(); // a job in flight keeps the process alive until answered
      pending.set(id, job);
      w.postMessage({ id, curve: OPENSSL_CURVE[curve], d, peer });
    });
  return {
    derive: async (curve, d, peer) => (await submit(curve, d, peer)).z,
    ephemeral: (curve, peer) => submit(curve, undefined, peer),
    close: async () => {
      const w = worker;
      broken = true;
      worker = undefined;
      if (w !== undefined) await w.terminate();
      const jobs = [...pending.values()];
      pending.clear();
      for (const j of jobs) runHere(j);
    },
  };
}

let shared: EcdhEngine | undefined;

/**
 * The process-wide default: a worker when there is more than one core to run it on, else the
 * calling thread (a worker on a single core only adds message passing).
 */
export function defaultEcdh(): EcdhEngine {
  shared ??= availableParallelism() > 1 ? workerEcdh() : inlineEcdh;
  return shared;
}
