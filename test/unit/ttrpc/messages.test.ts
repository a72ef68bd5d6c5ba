import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  encodeResponseFrame,
} from '../../../src/ttrpc/messages.js';
import { encodeFrame, MESSAGE_LENGTH_MAX, MessageType } from '../../../src/ttrpc/frame.js';
import { packagePath } from '../../../src/common/paths.js';
import { throwsCode } from '../../helpers/assert-code.js';

// The reference encoding: protobufjs reflection over proto/ttrpc/request.proto.
const root = protobuf.loadSync(packagePath('proto', 'ttrpc', 'request.proto'));
const Request = root.lookupType('ttrpc.Request');
const Response = root.lookupType('ttrpc.Response');

describe('Request', () => {
  const cases = [
    { name: 'pass_minimal', r: { service: 'containerd.task.v2.Task', method: 'Connect' } },
    {
      name: 'pass_all_fields',
      r: {
        service: 's',
        method: 'm',
        payload: Buffer.from([0x0a, 0x02, 0x69, 0x64]),
        timeoutNano: 5_000_000_000,
        metadata: [
          ['containerd-namespace-ttrpc', 'default'],
          ['k', 'v1'],
          ['k', 'v2'],
        ] as [string, string][],
      },
    },
  ];
  for (const c of cases) {
    test(`${c.name}_is_byte_exact_with_reflection`, () => {
      const ours = Buffer.from(encodeRequest(c.r));
      const md = 'metadata' in c.r ? (c.r.metadata ?? []).map(([key, value]) => ({ key, value })) : [];
      const ref = Buffer.from(
        Request.encode(
          Request.fromObject({
            service: c.r.service,
            method: c.r.method,
            payload: 'payload' in c.r ? c.r.payload : undefined,
            timeoutNano: 'timeoutNano' in c.r ? c.r.timeoutNano : 0,
            metadata: md,
          }),
        ).finish(),
      );
      assert.equal(ours.toString('hex'), ref.toString('hex'));
      const back = decodeRequest(ours);
      assert.equal(back.service, c.r.service);
      assert.equal(back.method, c.r.method);
      assert.equal(back.timeoutNano, 'timeoutNano' in c.r ? c.r.timeoutNano : 0);
      assert.deepEqual(back.metadata, 'metadata' in c.r ? c.r.metadata : []);
      assert.equal(back.hasPayload, 'payload' in c.r);
    });
  }

  test('pass_unknown_fields_are_skipped', () => {
    const w = protobuf.Writer.create();
    w.uint32((9 << 3) | 0).uint32(7); // unknown varint field 9
    w.uint32((1 << 3) | 2).string('svc');
    w.uint32((10 << 3) | 5).fixed32(1); // unknown fixed32
    const r = decodeRequest(w.finish());
    assert.equal(r.service, 'svc');
  });

  for (const [name, bytes] of [
    ['fail_truncated_string', Buffer.from([0x0a, 0x05, 0x61])],
    ['fail_bad_wire_type', Buffer.from([0x0f])],
    ['fail_field_zero', Buffer.from([0x00, 0x01])],
    ['fail_metadata_overrun', Buffer.from([0x2a, 0x10, 0x0a, 0x01, 0x61])],
    ['fail_truncated_varint', Buffer.from([0x20, 0xff])],
  ] as const) {
    test(name, () => {
      throwsCode(() => decodeRequest(bytes), 'ERR_TTRPC_MESSAGE_INVALID');
    });
  }
});

describe('Response', () => {
  test('pass_success_omits_status', () => {
    const b = encodeResponse(undefined, Buffer.from('xy'));
    assert.equal(Buffer.from(b).toString('hex'), '12027879');
    assert.equal(Buffer.from(encodeResponse({ code: 0, message: '' })).length, 0);
    assert.deepEqual(decodeResponse(b), { payload: Buffer.from('xy') });
  });

  test('pass_error_status_is_byte_exact', () => {
    const ours = Buffer.from(encodeResponse({ code: 12, message: 'method Nope' }));
    const ref = Buffer.from(
      Response.encode(Response.fromObject({ status: { code: 12, message: 'method Nope' } })).finish(),
    );
    assert.equal(ours.toString('hex'), ref.toString('hex'));
    assert.deepEqual(decodeResponse(ours).status, { code: 12, message: 'method Nope' });
  });

  test('pass_status_details_are_skipped', () => {
    // google.rpc.Status.details (field 3, an Any) as a Go peer may send it.
    const w = protobuf.Writer.create();
    w.uint32(0x0a)
      .fork()
      .uint32(0x08)
      .int32(5)
      .uint32(0x1a)
      .fork()
      .uint32(0x0a)
      .string('t')
      .ldelim()
      .ldelim();
    assert.deepEqual(decodeResponse(w.finish()).status, { code: 5, message: '' });
  });

  for (const [name, bytes] of [
    ['fail_status_overrun', Buffer.from([0x0a, 0x09, 0x08, 0x01])],
    ['fail_truncated_payload', Buffer.from([0x12, 0x04, 0x00])],
    ['fail_garbage', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  ] as const) {
    test(name, () => {
      throwsCode(() => decodeResponse(bytes), 'ERR_TTRPC_MESSAGE_INVALID');
    });
  }
});

describe('one-buffer frame encoders', () => {
  const requests = [
    { name: 'pass_minimal', r: { service: 's', method: 'm' } },
    { name: 'pass_empty_names', r: { service: '', method: '' } },
    {
      name: 'pass_unicode_and_long_payload',
      r: {
        service: 'ünï.Svc',
        method: 'Méthode',
        payload: Buffer.alloc(20_000, 7),
        timeoutNano: 2 ** 40 + 3,
      },
    },
    {
      name: 'pass_metadata_with_empty_parts',
      r: {
        service: 's',
        method: 'm',
        payload: Buffer.alloc(200, 1),
        timeoutNano: 127,
        metadata: [
          ['', 'v'],
          ['k', ''],
          ['κλειδί', 'τιμή'],
        ] as [string, string][],
      },
    },
    { name: 'pass_negative_timeout_general_path', r: { service: 's', method: 'm', timeoutNano: -5 } },
    { name: 'pass_timeout_128', r: { service: 's', method: 'm', timeoutNano: 128 } },
  ];
  for (const c of requests) {
    test(`${c.name}_request_frame_matches_encoder`, () => {
      const fast = encodeRequestFrame(9, 0x02, c.r);
      const slow = encodeFrame(9, MessageType.REQUEST, 0x02, encodeRequest(c.r));
      assert.equal(fast.toString('hex'), slow.toString('hex'));
    });
  }
  for (const [name, st, payload] of [
    ['pass_success_with_payload', undefined, Buffer.alloc(300, 3)],
    ['pass_success_empty', undefined, undefined],
    ['pass_error_status', { code: 5, message: 'x' }, undefined],
  ] as const) {
    test(`${name}_response_frame_matches_encoder`, () => {
      const fast = encodeResponseFrame(11, st, payload);
      const slow = encodeFrame(11, MessageType.RESPONSE, 0, encodeResponse(st, payload));
      assert.equal(fast.toString('hex'), slow.toString('hex'));
    });
  }
  test('fail_oversize_fast_frames', () => {
    throwsCode(
      () =>
        encodeRequestFrame(1, 0, { service: 's', method: 'm', payload: new Uint8Array(MESSAGE_LENGTH_MAX) }),
      'ERR_TTRPC_FRAME_TOO_LARGE',
    );
    throwsCode(
      () => encodeResponseFrame(1, undefined, new Uint8Array(MESSAGE_LENGTH_MAX)),
      'ERR_TTRPC_FRAME_TOO_LARGE',
    );
  });
});
