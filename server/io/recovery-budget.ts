/**
 * The byte budget that the recovery buffers of one Socket.IO server share (one per namespace adapter):
 * what each keeps, in emit order across all of them, and which to drop when they hold too much.
 */

/** A recovery buffer: its list of kept packets, oldest first, which loses only prefixes. */
export interface KeptList {
  kept(): unknown[];
}

interface Ledger {
  list: KeptList;
  /** Emit order (across lists) and estimated bytes of each kept packet, in the list's order. */
  orders: number[];
  sizes: number[];
}

export class RecoveryBudget {
  private readonly ledgers = new Map<KeptList, Ledger>();
  private bytes = 0;
  private nextOrder = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes kept by every list now (estimated), or by one. */
  usedBytes(list?: KeptList): number {
    this.reconcile();
    if (!list) return this.bytes;
    return sum(this.ledgers.get(list)?.sizes ?? []);
  }

  /**
   * Records that the last `sizes.length` packets of `list` were just appended, then, when all the lists
   * hold more than the budget, drops the oldest packets of all of them (prefixes only) until they hold at
   * most 90 % of it: not one copy of a list per emit, once full.
   */
  added(list: KeptList, sizes: number[]): void {
    let ledger = this.ledgers.get(list);
    if (!ledger) {
      ledger = { list, orders: [], sizes: [] };
      this.ledgers.set(list, ledger);
    }
    for (const size of sizes) {
      ledger.orders.push(this.nextOrder++);
      ledger.sizes.push(size);
      this.bytes += size;
    }
    if (this.bytes > this.limitBytes) this.shrink();
  }

  /** A list that is gone (its namespace closed): its bytes no longer count. */
  remove(list: KeptList): void {
    this.reconcile();
    const ledger = this.ledgers.get(list);
    if (!ledger) return;
    this.bytes -= sum(ledger.sizes);
    this.ledgers.delete(list);
  }

  /** The stock purge (expired packets, once a minute) removes prefixes: forget what it removed. */
  private reconcile(): void {
    for (const ledger of this.ledgers.values()) {
      const gone = ledger.sizes.length - ledger.list.kept().length;
      if (gone <= 0) continue;
      ledger.orders.splice(0, gone);
      this.bytes -= sum(ledger.sizes.splice(0, gone));
    }
  }

  private shrink(): void {
    this.reconcile();
    const target = Math.floor(this.limitBytes * 0.9);
    const drop = new Map<Ledger, number>();
    while (this.bytes > target) {
      let oldest: Ledger | null = null;
      let oldestOrder = Infinity;
      for (const ledger of this.ledgers.values()) {
        const order = ledger.orders[drop.get(ledger) ?? 0];
        if (order !== undefined && order < oldestOrder) {
          oldest = ledger;
          oldestOrder = order;
        }
      }
      if (!oldest) break;
      const index = drop.get(oldest) ?? 0;
      this.bytes -= oldest.sizes[index] ?? 0;
      drop.set(oldest, index + 1);
    }
    for (const [ledger, count] of drop) {
      ledger.list.kept().splice(0, count);
      ledger.orders.splice(0, count);
      ledger.sizes.splice(0, count);
    }
  }
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
