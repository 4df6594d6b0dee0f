import { GENERATIONS, type Generation } from "../protocol/index.js";
import type { PluginApi } from "../server/plugins/types.js";
import type { MigrationConfig } from "./config.js";
import type { ModeStore } from "./mode-store.js";
import { effectiveModes, type ModeSetting } from "./modes.js";
import { retired } from "./retirement.js";

/**
 * The modes this node applies. Every node re-reads the runtime settings every `pollMs` (and the node
 * that takes a change at once), so a flip reaches the whole cluster within about that; when shared state
 * does not answer, a node keeps what it applied last. Turning a generation `off` closes this node's live
 * connections of it, each with an `error {code: "protocol_retired"}` first.
 */
export class ModeSync {
  private current: Record<Generation, ModeSetting>;
  /** When this node last applied a change of each generation's mode (epoch ms). */
  readonly appliedAt = new Map<Generation, number>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private refreshing: Promise<void> | null = null;
  /** Called after this node applied a change (the census reports it at once). */
  onApplied: () => void = () => undefined;

  constructor(
    private readonly api: PluginApi,
    private readonly store: ModeStore,
    private readonly config: MigrationConfig,
    private readonly clock: () => number = Date.now,
  ) {
    this.current = effectiveModes({}, config.legacyMode);
  }

  get modes(): Readonly<Record<Generation, ModeSetting>> {
    return this.current;
  }

  mode(generation: Generation): ModeSetting {
    return this.current[generation];
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.config.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A read that starts after this call (a change just written must be seen), then applied. */
  async refreshNow(): Promise<void> {
    await this.refreshing;
    await this.refresh();
  }

  /** Reads the settings and applies what changed (one read at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= this.readAndApply().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async readAndApply(): Promise<void> {
    let stored;
    try {
      stored = await this.store.read();
    } catch (err) {
      if (!this.failing) this.api.log.warn({ err }, "migration modes unreadable: keeping the modes applied last");
      this.failing = true;
      return;
    }
    this.failing = false;
    const next = effectiveModes(stored, this.config.legacyMode);
    const now = this.clock();
    for (const generation of GENERATIONS) {
      const before = this.current[generation];
      const after = next[generation];
      if (before.mode === after.mode && before.sunset === after.sunset && before.since === after.since) continue;
      this.appliedAt.set(generation, now);
      this.api.log.info({ generation, from: before.mode, to: after.mode, source: after.source }, "migration mode applied");
      if (after.mode === "off") this.closeLive(generation);
    }
    const changed = GENERATIONS.some((g) => this.appliedAt.get(g) === now);
    this.current = next;
    if (changed) this.onApplied();
  }

  private closeLive(generation: Generation): void {
    let closed = 0;
    for (const conn of [...this.api.connections()]) {
      if (conn.generation !== generation) continue;
      this.api.disconnect(conn.id, conn.namespace, "protocol_retired", retired(generation, "connections").message);
      closed++;
    }
    if (closed > 0) this.api.log.info({ generation, closed }, "live connections of a retired generation closed");
  }
}
