import type { Namespace } from "socket.io";
import { SessionAwareAdapter, type BroadcastOptions } from "socket.io-adapter";
import { estimatePacketBytes } from "./packet-size.js";
import { RecoveryBudget, type KeptList } from "./recovery-budget.js";

/** An entry of SessionAwareAdapter's packet list (socket.io-adapter 2.5.8, pinned in package.json). */
interface KeptPacket {
  id: string;
  opts: BroadcastOptions;
  data: unknown[];
  emittedAt: number;
}

/**
 * The in-memory adapter of embedded mode, with connection state recovery whose packets are bounded in
 * bytes (`PIZZAPI_RECOVERY_BUFFER_BYTES`, README "Configuration"), one budget for all the namespaces of
 * the server. The stock SessionAwareAdapter keeps every emit of the recovery window (and up to a minute
 * more: it purges once a minute), however large: one client sending megabyte events could make it hold
 * gigabytes.
 *
 * Beyond the budget the oldest packets are dropped (RecoveryBudget), and only ever a prefix of a list,
 * which is what keeps recovery exact: restoreSession recovers a client only when the packet of its
 * offset (the last one it received) is still kept, and then sends every kept packet after it. A client
 * whose offset was dropped is not recovered (a fresh connection, which resumes at the application level:
 * a viewer's `lastSeq`, docs/protocol.md "Reconnection"); a client whose offset is kept missed nothing
 * that was dropped, since everything after its offset is kept too. A single packet larger than the
 * budget therefore drops everything before it, and itself.
 */
export class BoundedRecoveryAdapter extends SessionAwareAdapter implements KeptList {
  constructor(
    nsp: Namespace,
    private readonly budget: RecoveryBudget,
  ) {
    super(nsp);
  }

  /** Estimated bytes of the packets this namespace keeps for recovery now. */
  get keptBytes(): number {
    return this.budget.usedBytes(this);
  }

  /** Packets this namespace keeps for recovery now. */
  get keptPackets(): number {
    return this.kept().length;
  }

  kept(): KeptPacket[] {
    // The stock list is private in the typings; bracket access reads it without widening anything.
    return this["packets"] as KeptPacket[];
  }

  override broadcast(packet: unknown, opts: BroadcastOptions): void {
    const kept = this.kept();
    const before = kept.length;
    try {
      super.broadcast(packet, opts);
    } finally {
      // The stock adapter keeps an event without ack (before it encodes and sends it): size what it kept.
      const sizes: number[] = [];
      for (let i = before; i < kept.length; i++) sizes.push(estimatePacketBytes(kept[i]?.data));
      if (sizes.length > 0) this.budget.added(this, sizes);
    }
  }

  override close(): void {
    this.budget.remove(this);
    super.close();
  }
}

/**
 * The adapter class for `new Server({ adapter })`: its namespaces share one budget of this many bytes.
 * Its instances are BoundedRecoveryAdapters; the return type is the stock class's so that the emitted
 * declaration (dist/) can name it.
 */
export function boundedRecoveryAdapter(budgetBytes: number): typeof SessionAwareAdapter {
  const budget = new RecoveryBudget(budgetBytes);
  return class extends BoundedRecoveryAdapter {
    constructor(nsp: Namespace) {
      super(nsp, budget);
    }
  };
}
