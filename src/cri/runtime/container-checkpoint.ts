/** CheckpointContainer: not possible for VM-isolated containers (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';

/** CheckpointContainer handler. */
export const checkpointContainer: UnaryRpc = async () => {
  throw unimplemented(
    'CheckpointContainer',
    'checkpointing needs CRIU inside the guest, which no Kata guest ships',
  );
};
