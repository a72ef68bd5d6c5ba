/**
 * TEST/BENCH ONLY: an in-process no-op runtime behind the RuntimeBackend interface. Tasks are
 * state machines (created → running → exited); nothing is executed. It is selected only by a
 * handler of kind "test-noop" (never a shipped default). With `stateDir` its task table is kept
 * in an append-only journal of JSON lines (one write(2) per task change, no fsync: it outlives
 * a killed CRI server the way real shims do, so the durability tests can check re-attach).
 * One small write per change keeps the simulated runtime from being the bottleneck of the
 * benchmark; a file per task (write + rename + unlink, all blocking the event loop) was.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CocoonError } from '../common/errors.js';
import type {
  BackendExit,
  BackendTaskState,
  BackendUsage,
  ContainerLaunch,
  ExecResult,
  ReattachResult,
  RuntimeBackend,
  SandboxLaunch,
} from './backend.js';

interface NoopTask {
  sandboxId: string;
  id: string;
  status: BackendTaskState['status'];
  exitCode: number;
  exitedAt?: number;
  startedAt?: number;
  argv: readonly string[];
}

/** One journal line: a whole task or the removal of one. */
type JournalLine = { readonly put: NoopTask } | { readonly del: string };

/** Journal file name inside `stateDir`. */
export const NOOP_JOURNAL = 'tasks.jsonl';
/** The journal is rewritten when it holds this many lines more than 2× the live tasks. */
const JOURNAL_SLACK = 1024;

/** Options of TestNoopBackend. */
export interface TestNoopBackendOptions {
  /** Directory for the task table; undefined ⇒ memory only. */
  readonly stateDir?: string;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
}

/** The in-process no-op backend (tests and benchmarks only). */
export class TestNoopBackend implements RuntimeBackend {
  readonly name = 'test-noop';
  private readonly tasks = new Map<string, NoopTask>();
  private readonly dir: string | undefined;
  private readonly now: () => number;
  private listener: ((e: BackendExit) => void) | undefined;
  private pidSeq = 1000;
  private fd: number | undefined;
  private journalLines = 0;

  constructor(opts: TestNoopBackendOptions = {}) {
    this.dir = opts.stateDir;
    this.now = opts.now ?? Date.now;
    if (this.dir !== undefined) {
      mkdirSync(this.dir, { recursive: true });
      const path = join(this.dir, NOOP_JOURNAL);
      if (existsSync(path)) {
        for (const line of readFileSync(path, 'utf8').split('\n')) {
          if (line === '') continue;
          let j: unknown;
          try {
            j = JSON.parse(line);
          } catch {
            // Only the last line can be cut short (a kill during its write): stop there.
            break;
          }
          if (typeof j !== 'object' || j === null) break;
          const e = j as Partial<{ put: NoopTask; del: string }>;
          if (typeof e.put?.id === 'string') this.tasks.set(e.put.id, e.put);
          else if (typeof e.del === 'string') this.tasks.delete(e.del);
          else break;
        }
      }
      // Start from a compact journal (this also drops a torn last line).
      this.rewrite();
    }
  }

  /** Writes the live tasks to a fresh journal (temp file + rename) and appends to it from now. */
  private rewrite(): void {
    const dir = this.dir!;
    const tmp = join(dir, `${NOOP_JOURNAL}.tmp`);
    let body = '';
    for (const t of this.tasks.values()) body += `${JSON.stringify({ put: t })}\n`;
    writeFileSync(tmp, body);
    renameSync(tmp, join(dir, NOOP_JOURNAL));
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(join(dir, NOOP_JOURNAL), 'a');
    this.journalLines = this.tasks.size;
  }

  private append(j: JournalLine): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(j)}\n`);
    if (++this.journalLines > 2 * this.tasks.size + JOURNAL_SLACK) this.rewrite();
  }

  private save(t: NoopTask): void {
    this.tasks.set(t.id, t);
    this.append({ put: t });
  }

  private drop(id: string): void {
    if (!this.tasks.delete(id)) return;
    this.append({ del: id });
  }

  private task(id: string): NoopTask {
    const t = this.tasks.get(id);
    if (t === undefined) throw new CocoonError('ERR_CRI_NOT_FOUND', `test-noop: no task ${id}`);
    return t;
  }

  private stateOf(t: NoopTask): BackendTaskState {
    return {
      status: t.status,
      pid: t.status === 'running' ? 1 : 0,
      exitCode: t.exitCode,
      ...(t.exitedAt === undefined ? {} : { exitedAt: t.exitedAt }),
    };
  }

  async startSandbox(s: SandboxLaunch): Promise<{ pid: number }> {
    this.save({
      sandboxId: s.id,
      id: s.id,
      status: 'running',
      exitCode: 0,
      startedAt: this.now(),
      argv: ['pause'],
    });
    return { pid: ++this.pidSeq };
  }

  async stopSandbox(sandboxId: string): Promise<void> {
    const t = this.tasks.get(sandboxId);
    if (t !== undefined && t.status !== 'exited')
      this.save({ ...t, status: 'exited', exitCode: 0, exitedAt: this.now() });
  }

  async removeSandbox(sandboxId: string): Promise<void> {
    for (const t of [...this.tasks.values()]) if (t.sandboxId === sandboxId) this.drop(t.id);
  }

  async createContainer(c: ContainerLaunch): Promise<{ pid: number }> {
    if (this.tasks.has(c.id))
      throw new CocoonError('ERR_CRI_ALREADY_EXISTS', `test-noop: task ${c.id} exists`);
    this.save({ sandboxId: c.sandboxId, id: c.id, status: 'created', exitCode: 0, argv: [...c.args] });
    return { pid: ++this.pidSeq };
  }

  async startContainer(_sandboxId: string, id: string): Promise<{ pid: number }> {
    const t = this.task(id);
    if (t.status !== 'created')
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `test-noop: task ${id} is ${t.status}`);
    this.save({ ...t, status: 'running', startedAt: this.now() });
    return { pid: ++this.pidSeq };
  }

  async stopContainer(sandboxId: string, id: string): Promise<BackendTaskState> {
    const t = this.tasks.get(id);
    if (t === undefined) return { status: 'exited', pid: 0, exitCode: 0 };
    if (t.status === 'running' || t.status === 'created') {
      // A signalled no-op process "dies" of SIGTERM: 128 + 15, as a shell reports it.
      const next: NoopTask = {
        ...t,
        status: 'exited',
        exitCode: t.status === 'running' ? 143 : 0,
        exitedAt: this.now(),
      };
      this.save(next);
      this.listener?.({ sandboxId, id, exitCode: next.exitCode, exitedAt: next.exitedAt! });
      return this.stateOf(next);
    }
    return this.stateOf(t);
  }

  async removeContainer(_sandboxId: string, id: string): Promise<void> {
    this.drop(id);
  }

  async containerState(_sandboxId: string, id: string): Promise<BackendTaskState> {
    return this.stateOf(this.task(id));
  }

  async execSync(_sandboxId: string, id: string, cmd: readonly string[]): Promise<ExecResult> {
    const t = this.task(id);
    if (t.status !== 'running')
      throw new CocoonError('ERR_CRI_FAILED_PRECONDITION', `test-noop: task ${id} is not running`);
    // The no-op "runs" only `echo …` and `false`/`exit N`, enough for the suite's ExecSync cases.
    if (cmd[0] === 'echo')
      return { stdout: Buffer.from(`${cmd.slice(1).join(' ')}\n`), stderr: Buffer.alloc(0), exitCode: 0 };
    if (cmd[0] === 'false') return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 1 };
    return {
      stdout: Buffer.alloc(0),
      stderr: Buffer.from(`test-noop: ${cmd[0] ?? ''}: not found\n`),
      exitCode: 127,
    };
  }

  async stats(_sandboxId: string, id: string): Promise<BackendUsage | undefined> {
    const t = this.tasks.get(id);
    if (t === undefined) return undefined;
    const now = this.now();
    const ran = t.startedAt === undefined ? 0 : Math.max(0, (t.exitedAt ?? now) - t.startedAt);
    return {
      timestamp: now,
      cpuUsageNanos: ran * 1000,
      memoryWorkingSetBytes: 4096,
      memoryUsageBytes: 4096,
      processCount: t.status === 'running' ? 1 : 0,
    };
  }

  async updateContainer(_sandboxId: string, id: string): Promise<void> {
    this.task(id);
  }

  async reopenLog(_sandboxId: string, id: string): Promise<void> {
    this.task(id);
  }

  async reattach(s: SandboxLaunch, containerIds: readonly string[]): Promise<ReattachResult> {
    const containers = new Map<string, BackendTaskState>();
    for (const id of containerIds) {
      const t = this.tasks.get(id);
      if (t !== undefined) containers.set(id, this.stateOf(t));
    }
    return { alive: this.tasks.has(s.id), containers };
  }

  onExit(listener: (e: BackendExit) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
