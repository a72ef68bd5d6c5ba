/** An unbounded async message queue: the receive side of a ttrpc stream (ttrpc has no flow control). */
import type { CocoonError } from '../common/errors.js';

/** Messages in, async iteration out; ends with end() or fail(). */
export class MessageQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private ended = false;
  private error: CocoonError | undefined;
  private readonly onReturn: () => void;

  /** `onReturn` runs when the consumer stops early (break / return()). */
  constructor(onReturn: () => void = () => undefined) {
    this.onReturn = onReturn;
  }

  /** True once end() or fail() was called. */
  get done(): boolean {
    return this.ended;
  }

  /** Queues one message. */
  push(item: T): void {
    if (this.ended) return;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** Ends the queue after the messages already queued. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiter !== undefined && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Ends the queue with an error, raised after the messages already queued. */
  fail(e: CocoonError): void {
    if (this.ended) return;
    this.error = e;
    this.ended = true;
    if (this.waiter !== undefined && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(e);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.ended) {
      return this.error === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.error);
    }
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.onReturn();
    }
    this.items.length = 0;
    this.error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
