/**
 * Wire compatibility of proto/containerd: every message and field number written in the Task
 * API table of cri-kata.md §4.1 (read from the shared spec, not copied) must match our .proto
 * files, and the enum values must match the Status list.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import {
  containerdProtoPaths,
  containerdRoot,
  decodeContainerdMessage,
  encodeContainerdMessage,
} from '../../../src/kata/index.js';
import { throwsCode } from '../../helpers/assert-code.js';
import { readShared } from '../../helpers/shared.js';

/** Messages of the form `Name {a=1, b=2 (type), …}` in the text, nested ones included. */
function messagesIn(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const re = /([A-Za-z][\w.]*) \{/g;
  for (const m of text.matchAll(re)) {
    const start = m.index! + m[0].length;
    let depth = 1;
    let i = start;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    // Drop nested bodies so their fields do not count for the outer message.
    let body = text.slice(start, i - 1);
    for (let guard = 0; guard < 10 && /\{[^{}]*\}/.test(body); guard++)
      body = body.replace(/\{[^{}]*\}/g, '');
    const fields = new Map<string, number>();
    for (const f of body.matchAll(/(\w+)=(\d+)/g)) fields.set(f[1]!, Number(f[2]));
    const name = m[1]!.split('.').pop()!;
    if (fields.size > 0) out.set(name, fields);
  }
  return out;
}

const PACKAGES = [
  'containerd.task.v2',
  'containerd.types',
  'containerd.v1.types',
  'runtimeoptions.v1',
  'google.protobuf',
];

function lookup(name: string): protobuf.Type | undefined {
  for (const p of PACKAGES) {
    const t = containerdRoot().lookup(`${p}.${name}`);
    if (t instanceof protobuf.Type) return t;
  }
  return undefined;
}

describe('proto/containerd against cri-kata.md §4.1', () => {
  const spec = readShared('specs', 'cri-kata.md').toString('utf8');
  const section = spec.slice(
    spec.indexOf('### 4.1 Task service'),
    spec.indexOf('### 4.2 Launching the shim'),
  );
  const messages = messagesIn(section);

  test('pass_table_parsed', () => {
    for (const n of [
      'StateRequest',
      'StateResponse',
      'CreateTaskRequest',
      'Mount',
      'ConnectResponse',
      'Options',
      'Any',
    ]) {
      assert.ok(messages.has(n), `${n} not found in the spec table`);
    }
  });

  for (const [name, fields] of messages) {
    test(`pass_${name}_field_numbers`, () => {
      const t = lookup(name);
      assert.ok(t, `message ${name} missing from proto/containerd`);
      for (const [field, id] of fields) {
        const f: protobuf.Field | undefined = t.fields[field];
        assert.ok(f, `${name}.${field} missing`);
        assert.equal(f.id, id, `${name}.${field}`);
      }
    });
  }

  test('pass_status_enum_values', () => {
    const e = containerdRoot().lookupEnum('containerd.v1.types.Status');
    const line = /`containerd\.v1\.types\.Status`: ([^\n]+)/.exec(section)![1]!;
    for (const m of line.matchAll(/([A-Z]+)=(\d+)/g)) assert.equal(e.values[m[1]!], Number(m[2]), m[1]);
  });

  test('pass_rpc_set_complete', () => {
    const svc = containerdRoot().lookupService('containerd.task.v2.Task');
    const rows = [...section.matchAll(/^\| ([A-Z][A-Za-z]+(?: \/ [A-Z][A-Za-z]+)?) \|/gm)].flatMap((m) =>
      m[1]!.split(' / '),
    );
    const rpcs = rows.filter((r) => r !== 'RPC');
    assert.ok(rpcs.length >= 17);
    for (const r of rpcs) assert.ok(svc.methods[r], `rpc ${r} missing`);
  });

  test('pass_proto_paths_exist', () => {
    for (const p of containerdProtoPaths()) assert.ok(existsSync(p), p);
  });

  test('fail_encode_wrong_type', () => {
    throwsCode(
      () => encodeContainerdMessage('containerd.task.v2.StateRequest', { id: 5 }),
      'ERR_KATA_PROTO_INVALID',
    );
  });

  test('fail_decode_garbage', () => {
    throwsCode(
      () => decodeContainerdMessage('containerd.task.v2.StateResponse', Buffer.from([0x0a, 0x7f])),
      'ERR_KATA_PROTO_INVALID',
    );
  });

  test('pass_encoding_uses_declared_tags', () => {
    // CreateTaskRequest.options is field 10, length-delimited: tag byte (10 << 3) | 2 = 0x52.
    const b = encodeContainerdMessage('containerd.task.v2.CreateTaskRequest', {
      options: { type_url: 'x', value: Buffer.alloc(0) },
    });
    assert.equal(b[0], 0x52);
  });
});
