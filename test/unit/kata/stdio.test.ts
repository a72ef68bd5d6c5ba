import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  CriLogWriter,
  LineSplitter,
  createStdioFifos,
  formatCriLogLine,
  formatRfc3339Nano,
  pumpContainerLogs,
  writeBundle,
  readBundleSpec,
  removeBundle,
  buildSandboxSpec,
  CRI_LOG_MAX_LINE,
} from '../../../src/kata/index.js';
import { fixedClock } from '../../../src/common/clock.js';
import { throwsCode } from '../../helpers/assert-code.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-kata-stdio-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `sh -c script` (bounded) — a real writer process for a FIFO. */
function sh(script: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error('writer timed out'));
    }, 5000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

function bounded<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

describe('CRI log format (cri-kata.md §4.4)', () => {
  const cases: [string, Date, string][] = [
    ['pass_millis', new Date('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05.678Z'],
    ['pass_trailing_zeros_trimmed', new Date('2026-01-02T03:04:05.500Z'), '2026-01-02T03:04:05.5Z'],
    ['pass_whole_second', new Date('2026-01-02T03:04:05.000Z'), '2026-01-02T03:04:05Z'],
  ];
  for (const [name, d, want] of cases) {
    test(name, () => assert.equal(formatRfc3339Nano(d), want));
  }

  test('pass_record_layout', () => {
    const b = formatCriLogLine(new Date('2026-01-02T03:04:05.1Z'), 'stderr', true, 'abc');
    assert.equal(b.toString(), '2026-01-02T03:04:05.1Z stderr P abc\n');
  });

  test('pass_writer_splits_long_lines_into_partials', () => {
    const path = join(dir, 'split.log');
    const w = new CriLogWriter(path, { clock: fixedClock('2026-01-02T03:04:05Z') });
    const long = 'a'.repeat(CRI_LOG_MAX_LINE * 2 + 10);
    w.write('stdout', Buffer.from(`${long}\nshort\n`));
    w.write('stderr', Buffer.from('no newline'));
    w.close();
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(
      lines.map((l) => l.split(' ').slice(1, 3).join(' ')),
      ['stdout P', 'stdout P', 'stdout F', 'stdout F', 'stderr F'],
    );
    assert.equal(lines[0]!.length, '2026-01-02T03:04:05Z stdout P '.length + CRI_LOG_MAX_LINE);
    assert.equal(lines[2]!.endsWith(' ' + 'a'.repeat(10)), true);
    assert.equal(lines[3], '2026-01-02T03:04:05Z stdout F short');
    assert.equal(lines[4], '2026-01-02T03:04:05Z stderr F no newline');
  });

  test('pass_line_splitter_chunk_boundaries', () => {
    const out: string[] = [];
    const s = new LineSplitter(4, (l, complete) => out.push(`${l.toString()}${complete ? '' : '+'}`));
    for (const c of ['ab', 'c\nde', 'fgh', 'i\n', '\n']) s.push(Buffer.from(c));
    s.end();
    assert.deepEqual(out, ['abc', 'defg+', 'hi', '']);
  });

  test('pass_reopen_after_rotation', () => {
    const path = join(dir, 'rot.log');
    const w = new CriLogWriter(path, { clock: fixedClock(0) });
    w.record('stdout', 'one');
    rmSync(path);
    w.reopen();
    w.record('stdout', 'two');
    w.close();
    assert.equal(readFileSync(path, 'utf8'), '1970-01-01T00:00:00Z stdout F two\n');
  });
});

describe('stdio FIFOs → CRI log', () => {
  test('pass_fifos_created', () => {
    const p = createStdioFifos(join(dir, 'io'), 'c1', { stdin: true });
    for (const f of [p.stdin, p.stdout, p.stderr]) assert.ok(lstatSync(f).isFIFO(), f);
  });

  test('fail_id_with_slash', () => {
    throwsCode(() => createStdioFifos(join(dir, 'io'), '../x'), 'ERR_KATA_SPEC_INVALID');
  });

  test('pass_pump_copies_both_streams_until_writers_close', async () => {
    const p = createStdioFifos(join(dir, 'io'), 'c2');
    const log = join(dir, 'c2.log');
    const pump = pumpContainerLogs(p, log);
    try {
      // A real writer opens the FIFOs (as the shim does), prints, then exits.
      const writer = sh(`exec >"${p.stdout}" 2>"${p.stderr}"; echo out1; echo err1 >&2; printf tail`);
      assert.equal(await writer, 0);
      pump.release();
      await bounded(pump.done);
    } finally {
      pump.close();
    }
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const body = lines.map((l) => l.replace(/^\S+ /, '')).sort();
    assert.deepEqual(body, ['stderr F err1', 'stdout F out1', 'stdout F tail']);
  });

  test('pass_no_premature_eof_before_writer_opens', async () => {
    const p = createStdioFifos(join(dir, 'io'), 'c3');
    const log = join(dir, 'c3.log');
    const pump = pumpContainerLogs(p, log);
    try {
      // No writer yet: the keep-alive end stops the reader from seeing EOF.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await sh(`exec >"${p.stdout}" 2>"${p.stderr}"; echo late`), 0);
      pump.release();
      await bounded(pump.done);
    } finally {
      pump.close();
    }
    assert.match(readFileSync(log, 'utf8'), /stdout F late\n$/);
  });
});

describe('writeBundle (cri-kata.md §4.2)', () => {
  test('pass_layout_and_log_forwarding', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const spec = buildSandboxSpec({ id: 's', name: 'n', namespace: 'ns', uid: 'u', args: ['/pause'] });
    const b = writeBundle(join(dir, 'bundle1'), spec, { logger, rootfs: '/srv/rootfs' });
    try {
      assert.ok(lstatSync(b.rootfsPath).isDirectory());
      const st = lstatSync(b.logPath);
      assert.ok(st.isFIFO());
      assert.equal(st.mode & 0o777, 0o700);
      const written = JSON.parse(readFileSync(b.configPath, 'utf8')) as { root: { path: string } };
      assert.equal(written.root.path, '/srv/rootfs');
      assert.equal(spec.root!.path, 'rootfs', 'input spec mutated');
      // The shim opens `log` write-only; a reader is already there, so this does not block.
      assert.equal(
        await sh(`echo 'level=info msg="hello from shim"' > "${b.logPath}"; echo second > "${b.logPath}"`),
        0,
      );
      const end = Date.now() + 5000;
      while (lines.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        lines.map((l) => l['shimLog']),
        ['level=info msg="hello from shim"', 'second'],
      );
    } finally {
      b.close();
    }
  });

  test('pass_rewrite_reuses_fifo', () => {
    const spec = buildSandboxSpec({ id: 's', name: 'n', namespace: 'ns', uid: 'u', args: ['/pause'] });
    writeBundle(join(dir, 'bundle2'), spec).close();
    writeFileSync(join(dir, 'bundle2', 'marker'), '');
    const again = writeBundle(join(dir, 'bundle2'), { ...spec, hostname: 'h2' });
    again.close();
    assert.ok(lstatSync(join(dir, 'bundle2', 'log')).isFIFO());
    assert.equal(
      (JSON.parse(readFileSync(join(dir, 'bundle2', 'config.json'), 'utf8')) as { hostname: string })
        .hostname,
      'h2',
    );
  });

  test('pass_read_back_and_remove', () => {
    const spec = buildSandboxSpec({
      id: 's',
      name: 'n',
      namespace: 'ns',
      uid: 'u',
      args: ['/pause'],
      hostname: 'rb',
    });
    const b = writeBundle(join(dir, 'bundle-rb'), spec);
    b.close();
    assert.equal(readBundleSpec(b.dir).hostname, 'rb');
    removeBundle(b.dir);
    removeBundle(b.dir); // idempotent
    throwsCode(() => readBundleSpec(b.dir), 'ERR_KATA_BUNDLE_IO');
  });

  test('fail_relative_rootfs', () => {
    const spec = buildSandboxSpec({ id: 's', name: 'n', namespace: 'ns', uid: 'u', args: ['/pause'] });
    throwsCode(() => writeBundle(join(dir, 'bundle3'), spec, { rootfs: 'rel' }), 'ERR_KATA_BUNDLE_IO');
  });

  test('fail_unwritable_dir', () => {
    const spec = buildSandboxSpec({ id: 's', name: 'n', namespace: 'ns', uid: 'u', args: ['/pause'] });
    writeFileSync(join(dir, 'afile'), '');
    throwsCode(() => writeBundle(join(dir, 'afile', 'b'), spec), 'ERR_KATA_BUNDLE_IO');
  });
});
