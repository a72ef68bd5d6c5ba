/** ImageFsInfo: a real mountpoint and usage (the kubelet takes image_filesystems[0], §6). */
import { nanos } from '../ids.js';
import type { UnaryRpc } from '../rpc.js';

/** ImageFsInfo handler. */
export const imageFsInfo: UnaryRpc = async (d) => {
  const now = nanos(Date.now());
  const fs =
    d.images === undefined
      ? { mountpoint: d.config.stateDir, usedBytes: 0, inodesUsed: 0 }
      : await d.images.store.fsInfo();
  const usage = {
    timestamp: now,
    fs_id: { mountpoint: fs.mountpoint },
    used_bytes: { value: String(fs.usedBytes) },
    inodes_used: { value: String(fs.inodesUsed) },
  };
  return {
    image_filesystems: [usage],
    container_filesystems: [{ ...usage, fs_id: { mountpoint: d.config.stateDir } }],
  };
};
