import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGuestPullMount,
  decodeVolumeOption,
  guestPullMount,
  guestPullVolume,
  KATA_VOLUME_OPTION_PREFIX,
  type TaskMount,
} from '../../../src/kata/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

const META = { 'io.kubernetes.cri.container-name': 'app', 'containerd.io/snapshot/cri.image-ref': 'r/app:1' };

/** Re-encodes a JSON object as the volume option (for one-member mutations of a real artifact). */
function optionOf(o: unknown): string {
  return KATA_VOLUME_OPTION_PREFIX + Buffer.from(JSON.stringify(o)).toString('base64');
}

function realVolumeJson(): Record<string, unknown> {
  const m = guestPullMount({ source: 'registry.example/app:1.0', metadata: META });
  const b64 = m.options[0]!.slice(KATA_VOLUME_OPTION_PREFIX.length);
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as Record<string, unknown>;
}

describe('guest-pull volume (cri-kata.md §3.3)', () => {
  test('pass_exact_json_shape', () => {
    const v = guestPullVolume({ source: 'registry.example/app:1.0', metadata: META });
    assert.equal(
      JSON.stringify(v),
      JSON.stringify({
        volume_type: 'image_guest_pull',
        source: 'registry.example/app:1.0',
        fs_type: 'overlayfs',
        options: [],
        image_pull: { metadata: META },
      }),
    );
  });

  test('pass_metadata_defaults_to_object_not_null', () => {
    const v = guestPullVolume({ source: 'x' });
    assert.deepEqual(v.image_pull, { metadata: {} });
  });

  test('pass_mount_shape_and_standard_base64', () => {
    const m = guestPullMount({ source: 'registry.example/app:1.0', metadata: META });
    assert.equal(m.type, 'fuse.nydus-overlayfs');
    assert.equal(m.options.length, 1);
    const opt = m.options[0]!;
    assert.ok(opt.startsWith('io.katacontainers.volume='));
    const b64 = opt.slice('io.katacontainers.volume='.length);
    assert.match(b64, /^[A-Za-z0-9+/]+={0,2}$/);
    assert.equal(b64.length % 4, 0);
  });

  test('pass_round_trip', () => {
    const m = guestPullMount({ source: 'registry.example/app:1.0', metadata: META });
    const d = decodeGuestPullMount([m]);
    assert.equal(d.source, 'registry.example/app:1.0');
    assert.deepEqual(d.metadata, META);
    assert.deepEqual(d.volume, guestPullVolume({ source: 'registry.example/app:1.0', metadata: META }));
    assert.deepEqual(decodeGuestPullMount(m), d);
  });

  test('pass_extra_overlay_options_are_ignored', () => {
    const m = guestPullMount({ source: 's' });
    const withOverlay: TaskMount = { ...m, options: ['lowerdir=/a', ...m.options] };
    assert.equal(decodeGuestPullMount([withOverlay]).source, 's');
  });

  test('fail_empty_source_on_build', () => {
    throwsCode(() => guestPullVolume({ source: '' }), 'ERR_KATA_VOLUME_INVALID');
  });

  test('fail_non_string_metadata_on_build', () => {
    throwsCode(
      () => guestPullVolume({ source: 's', metadata: { a: 1 as unknown as string } }),
      'ERR_KATA_VOLUME_INVALID',
    );
  });

  // Negative cases: start from the real encoded volume and change one thing.
  const mutations: [string, (o: Record<string, unknown>) => unknown, string][] = [
    ['fail_wrong_volume_type', (o) => ({ ...o, volume_type: 'direct_block' }), 'volume_type'],
    ['fail_missing_source', (o) => ({ ...o, source: undefined }), 'source'],
    ['fail_empty_source', (o) => ({ ...o, source: '' }), 'source'],
    ['fail_fs_type_not_string', (o) => ({ ...o, fs_type: 3 }), 'fs_type'],
    ['fail_options_not_strings', (o) => ({ ...o, options: [1] }), 'options'],
    ['fail_missing_image_pull', (o) => ({ ...o, image_pull: undefined }), 'image_pull'],
    ['fail_null_metadata', (o) => ({ ...o, image_pull: { metadata: null } }), 'image_pull.metadata'],
    [
      'fail_metadata_value_not_string',
      (o) => ({ ...o, image_pull: { metadata: { a: true } } }),
      'image_pull.metadata',
    ],
    ['fail_json_array', () => [], 'json'],
  ];
  for (const [name, mutate, stage] of mutations) {
    test(name, () => {
      const e = throwsCode(
        () => decodeVolumeOption(optionOf(mutate(realVolumeJson()))),
        'ERR_KATA_VOLUME_INVALID',
      );
      assert.equal(e.details['stage'], stage);
    });
  }

  const raw: [string, string, string][] = [
    ['fail_no_prefix', 'io.katacontainers.other=e30=', 'prefix'],
    ['fail_not_base64', `${KATA_VOLUME_OPTION_PREFIX}!!!!`, 'base64'],
    ['fail_unpadded_base64', `${KATA_VOLUME_OPTION_PREFIX}e30`, 'base64'],
    ['fail_empty_payload', KATA_VOLUME_OPTION_PREFIX, 'base64'],
    ['fail_not_json', KATA_VOLUME_OPTION_PREFIX + Buffer.from('{nope').toString('base64'), 'json'],
  ];
  for (const [name, opt, stage] of raw) {
    test(name, () => {
      const e = throwsCode(() => decodeVolumeOption(opt), 'ERR_KATA_VOLUME_INVALID');
      assert.equal(e.details['stage'], stage);
    });
  }

  test('fail_two_mounts', () => {
    const m = guestPullMount({ source: 's' });
    const e = throwsCode(() => decodeGuestPullMount([m, m]), 'ERR_KATA_VOLUME_INVALID');
    assert.equal(e.details['stage'], 'mounts');
  });

  test('fail_two_volume_options', () => {
    const m = guestPullMount({ source: 's' });
    const e = throwsCode(
      () => decodeGuestPullMount([{ ...m, options: [m.options[0]!, m.options[0]!] }]),
      'ERR_KATA_VOLUME_INVALID',
    );
    assert.equal(e.details['stage'], 'options');
  });

  test('fail_no_volume_option', () => {
    const m = guestPullMount({ source: 's' });
    throwsCode(() => decodeGuestPullMount([{ ...m, options: ['ro'] }]), 'ERR_KATA_VOLUME_INVALID');
  });
});
