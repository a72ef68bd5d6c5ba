/** CheckpointPod (unreleased master API): not possible for VM-isolated pods (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';

/** CheckpointPod handler. */
export const checkpointPod: UnaryRpc = async () => {
  throw unimplemented('CheckpointPod', 'pod checkpointing needs CRIU inside the guest');
};
