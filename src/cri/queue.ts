/**
 * A bounded queue for heavy operations (create, start, stop, remove, pull): at most
 * `concurrency` run at once, at most `maxQueued` wait, and the rest are refused with
 * ERR_CRI_BUSY at once rather than piling up behind a slow shim (cri-kata.md §2.6: List and
 * Status RPCs never go through it, so PLEG relists never wait on a guest pull).
 */
import { CocoonError } from '../common/errors.js';

/** A bounded FIFO semaphore. */
export class OpQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly maxQueued: number;

  constructor(concurrency: number, maxQueued: number) {
    this.concurrency = concurrency;
    this.maxQueued = maxQueued;
  }

  /** Operations running now. */
  get active(): number {
    return this.running;
  }

  /** Operations waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `fn` when a slot is free; rejects with ERR_CRI_BUSY when the queue is full. */
  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        throw new CocoonError('ERR_CRI_BUSY', `too many operations in flight; ${what} refused`, {
          details: { running: this.running, queued: this.waiting.length },
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
