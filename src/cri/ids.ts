/**
 * Ids and names. Ids are 64 random hex characters as containerd and CRI-O make them; names are
 * derived from CRI metadata so that a request retried after the kubelet's deadline maps to the
 * object the first request created (cri-kata.md §2.5 item 1).
 */
import { randomBytes } from 'node:crypto';

/** A new random 64-hex id. */
export function newId(random: (n: number) => Buffer = randomBytes): string {
  return random(32).toString('hex');
}

/** Reservation name of a pod sandbox: k8s_<pod>_<namespace>_<uid>_<attempt>. */
export function sandboxName(m: { name: string; namespace: string; uid: string; attempt: number }): string {
  return `k8s_${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

/** Reservation name of a container: k8s_<container>_<sandbox id>_<attempt> (unique per pod sandbox). */
export function containerName(sandboxId: string, m: { name: string; attempt: number }): string {
  return `k8s_${m.name}_${sandboxId}_${m.attempt}`;
}

/** Nanoseconds since the epoch as a decimal string (int64 fields go out as strings, §1.5). */
export function nanos(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}
