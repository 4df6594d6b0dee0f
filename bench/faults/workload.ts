import { randomBytes } from "node:crypto";
import { HubClient } from "../../clients/browser/hub.js";
import { ViewerClient } from "../../clients/browser/viewer.js";
import { FieldCli, FieldRunner, type CliGeneration } from "../../clients/generations/index.js";
import { LegacyHubClient, LegacyViewerClient } from "../../clients/legacy/browser-clients.js";
import { LegacyCliClient } from "../../clients/legacy/cli-client.js";
import { LegacyRunnerClient } from "../../clients/legacy/runner-client.js";
import type { Frame } from "../../clients/legacy/socket.js";
import { RelayClient } from "../../clients/socketio/cli-client.js";
import { RunnerClient } from "../../clients/socketio/runner-client.js";
import type { FaultUser } from "./cluster.js";

/** The two wires a client speaks. */
export type Stack = "socketio" | "legacy";
export type CliKind = "legacy" | CliGeneration | "current";

/** The Socket.IO CLIs, in turn: every generation in the field, then this relay's own client. */
const SOCKET_CLI_KINDS: readonly CliKind[] = ["socket-unversioned", "socket-v1", "socket-v1-acked", "current"];

/** Sessions per user: well under the relay's default per-user cap. */
export const SESSIONS_PER_USER = 50;

/**
 * When each client was without its relay: from losing its connection to being usable again (a CLI or
 * runner registered, a viewer synced or recovered, a hub listed or recovered). Clients of the load
 * generator itself (the harness closing them) are not counted.
 */
export class Outages {
  readonly back: Record<Stack, number[]> = { socketio: [], legacy: [] };
  /** The same samples by kind of client (the id up to its first digit or user: `cli`, `viewer`, `legacy-hub`...). */
  readonly byKind = new Map<string, number[]>();
  /**
   * Socket.IO clients only: from their last reconnection attempt to being usable, by kind (the relay's
   * share of the outage; the rest is the client's own reconnection delay, 0.5–1.5 s for socket.io-client).
   */
  readonly sinceAttemptByKind = new Map<string, number[]>();
  /** Socket.IO clients: from their last reconnection attempt to the namespace connect (transport, handshake, auth). */
  readonly attemptToConnect: number[] = [];
  /** Socket.IO clients: from the namespace connect to being usable (register, resume, list), by kind. */
  readonly connectToReadyByKind = new Map<string, number[]>();
  private readonly down = new Map<string, { since: number; stack: Stack; attempt?: number; connected?: number }>();
  stopped = false;

  lost(id: string, stack: Stack): void {
    if (this.stopped || this.down.has(id)) return;
    this.down.set(id, { since: performance.now(), stack });
  }

  /** Follows a Socket.IO client's outages: lost on `disconnect`, its reconnection attempts, its namespace connects. */
  watch(id: string, socket: { on(event: "disconnect" | "connect", listener: () => void): unknown; io: { on(event: "reconnect_attempt", listener: () => void): unknown } }): void {
    socket.on("disconnect", () => this.lost(id, "socketio"));
    socket.io.on("reconnect_attempt", () => this.attempt(id));
    socket.on("connect", () => this.connected(id));
  }

  /** A Socket.IO client is connected to its namespace again. */
  connected(id: string): void {
    const outage = this.down.get(id);
    if (!outage || outage.attempt === undefined) return;
    outage.connected = performance.now();
    this.attemptToConnect.push(outage.connected - outage.attempt);
  }

  /** A Socket.IO client starts a reconnection attempt. */
  attempt(id: string): void {
    const outage = this.down.get(id);
    if (outage) outage.attempt = performance.now();
  }

  ready(id: string): void {
    const outage = this.down.get(id);
    if (!outage) return;
    this.down.delete(id);
    const now = performance.now();
    const ms = now - outage.since;
    this.back[outage.stack].push(ms);
    const kind = id.replace(/-(\d+|fault-.*)$/, "");
    this.byKind.set(kind, [...(this.byKind.get(kind) ?? []), ms]);
    if (outage.connected !== undefined) this.connectToReadyByKind.set(kind, [...(this.connectToReadyByKind.get(kind) ?? []), now - outage.connected]);
    if (outage.attempt !== undefined) this.sinceAttemptByKind.set(kind, [...(this.sinceAttemptByKind.get(kind) ?? []), now - outage.attempt]);
  }

  /** Clients still without their relay. */
  get stillDown(): Array<{ id: string; stack: Stack; forMs: number }> {
    const now = performance.now();
    return [...this.down].map(([id, o]) => ({ id, stack: o.stack, forMs: now - o.since }));
  }
}

/** What one viewer connection (native: the client's whole life; legacy: one WebSocket) received. */
export interface ViewerLog {
  stack: Stack;
  /** The `n` of each workload event, in arrival order. */
  ns: number[];
  /** When each of them arrived (performance.now()). */
  times: number[];
  /** Legacy: `seq`s of live events, to find gaps within the connection. */
  seqs: number[];
  /** Legacy: the position the connection started from (its first `connected.lastSeq`). */
  from: number;
}

export interface SessionTrack {
  index: number;
  kind: CliKind;
  sessionId: string | null;
  /** Workload events published (`n` = 1..published). */
  published: number;
  /** `n` of the events the relay acknowledged. */
  acked: Set<number>;
  viewers: ViewerLog[];
  /** Ended under the workload (a `disconnected`/`session_expired`), which should not happen. */
  ended: string[];
}

interface CliHandle {
  publish(n: number): void;
  /** Ends the session and closes; resolves when done. */
  end(): Promise<void>;
  /** RelayClient: resolves once nothing is waiting for an ack. */
  flushed(): Promise<void>;
}

export interface WorkloadOptions {
  url: string;
  users: FaultUser[];
  sessions: number;
  /** Workload events per second per session. */
  rate: number;
  log?: (line: string) => void;
}

/**
 * The clients of a fault scenario, all through the load balancer: per session a CLI (every other one
 * legacy; the others cycle through the Socket.IO generations socket-unversioned, socket-v1,
 * socket-v1-acked and this relay's own client), a Socket.IO viewer (ViewerClient, which resumes by
 * `seq`) and a legacy viewer (reopened at once when closed, as a user reloading would: the legacy UI
 * does not reconnect by itself); per user a Socket.IO hub and a legacy hub; runners of every
 * generation. Socket.IO clients use WebSocket only (the load balancer has no stickiness for polling).
 */
export class Workload {
  readonly outages = new Outages();
  readonly sessions: SessionTrack[] = [];
  private readonly clis: CliHandle[] = [];
  private readonly closers: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly log: (line: string) => void;
  private closed = false;

  constructor(private readonly options: WorkloadOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** Opens every client and waits until each CLI registered and each viewer and hub is ready. */
  async start(timeoutMs = 60_000): Promise<void> {
    const { sessions } = this.options;
    for (let i = 0; i < sessions; i++) {
      const user = this.options.users[Math.floor(i / SESSIONS_PER_USER)] as FaultUser;
      const kind: CliKind = i % 2 === 0 ? "legacy" : (SOCKET_CLI_KINDS[(i >> 1) % SOCKET_CLI_KINDS.length] ?? "current");
      const track: SessionTrack = { index: i, kind, sessionId: null, published: 0, acked: new Set(), viewers: [], ended: [] };
      this.sessions.push(track);
      this.clis.push(this.openCli(track, user));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 50));
    }
    await this.until(() => this.sessions.every((s) => s.sessionId !== null), "every CLI registered", timeoutMs);
    for (const track of this.sessions) {
      const user = this.options.users[Math.floor(track.index / SESSIONS_PER_USER)] as FaultUser;
      this.openNativeViewer(track, user);
      this.openLegacyViewer(track, user);
    }
    const ready = { hubs: 0, runners: 0 };
    for (const user of this.options.users) {
      this.openHubs(user, () => ready.hubs++);
    }
    this.openRunners(this.options.users[0] as FaultUser, () => ready.runners++);
    await this.until(() => this.sessions.every((s) => s.viewers.length >= 2) && ready.hubs >= 2 * this.options.users.length && ready.runners >= 4, "viewers, hubs and runners ready", timeoutMs);
    this.log(`workload: ${sessions} sessions (${this.options.users.length} users), ${2 * sessions} viewers, ${2 * this.options.users.length} hubs, 4 runners`);
  }

  /** Every session publishes `rate` events per second, staggered evenly. */
  startPublishing(): void {
    const period = 1_000 / this.options.rate;
    this.clis.forEach((cli, i) => {
      const track = this.sessions[i] as SessionTrack;
      const first = setTimeout(
        () => {
          const timer = setInterval(() => cli.publish(++track.published), period);
          this.timers.push(timer);
        },
        (period * i) / this.clis.length,
      );
      this.timers.push(first);
    });
  }

  stopPublishing(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** Resolves once every Socket.IO CLI of this relay's own client has its events acknowledged. */
  async flushed(timeoutMs: number): Promise<boolean> {
    const all = Promise.all(this.clis.map((c) => c.flushed())).then(() => true);
    return Promise.race([all, new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.outages.stopped = true;
    this.stopPublishing();
    await Promise.all(this.clis.map((c) => c.end().catch(() => undefined)));
    for (const close of this.closers) close();
  }

  private async until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`workload: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private event(n: number): Record<string, unknown> {
    return { type: "message_update", src: "fault", n, text: "x".repeat(64) };
  }

  private openCli(track: SessionTrack, user: FaultUser): CliHandle {
    const id = `cli-${track.index}`;
    const { url } = this.options;
    if (track.kind === "legacy") {
      const cli = new LegacyCliClient({ relayUrl: url, apiKey: user.key, cwd: `/fault/${track.index}`, heartbeatMs: 10_000 });
      const sent = new Map<number, number>();
      cli.on("registered", (r: { sessionId: string }) => {
        track.sessionId = r.sessionId;
        sent.clear();
        this.outages.ready(id);
      });
      cli.on("frame", (frame: Frame) => {
        if (frame.type !== "event_ack" || typeof frame.seq !== "number") return;
        const n = sent.get(frame.seq);
        if (n !== undefined) track.acked.add(n);
      });
      cli.on("close", () => this.outages.lost(id, "legacy"));
      cli.on("session_expired", () => track.ended.push("session_expired"));
      cli.start();
      return {
        publish: (n) => {
          if (cli.forward(this.event(n))) sent.set(cli.sentSeq, n);
        },
        end: async () => cli.stop(),
        flushed: async () => undefined,
      };
    }
    if (track.kind === "current") {
      const cli = new RelayClient({ url, apiKey: user.key, clientVersion: "fault-suite", session: { cwd: `/fault/${track.index}` } });
      const published: number[] = [];
      cli.on("registered", (r) => {
        track.sessionId = r.sessionId;
        this.outages.ready(id);
      });
      this.outages.watch(id, cli.socket);
      cli.start();
      return {
        publish: (n) => {
          cli.publish(this.event(n));
          published.push(n);
        },
        end: async () => {
          await Promise.race([cli.end(), new Promise((r) => setTimeout(r, 2_000))]);
          cli.close();
        },
        // Acknowledged means: the client's buffer let go of it. At the end, all of them or none.
        flushed: async () => {
          await cli.flushed();
          if (cli.stats.dropped === 0) for (const n of published) track.acked.add(n);
        },
      };
    }
    const cli = new FieldCli({ url, apiKey: user.key, generation: track.kind, cwd: `/fault/${track.index}` });
    const sent = new Map<number, number>();
    cli.socket.on("registered", (r) => {
      track.sessionId = r.sessionId;
      sent.clear();
      this.outages.ready(id);
    });
    cli.socket.on("event_ack", (ack) => {
      const n = sent.get(ack.seq);
      if (n !== undefined) track.acked.add(n);
    });
    this.outages.watch(id, cli.socket);
    cli.socket.on("session_expired", () => track.ended.push("session_expired"));
    cli.start();
    return {
      publish: (n) => {
        if (cli.publish(this.event(n))) sent.set(cli.sentSeq, n);
      },
      end: async () => cli.stop(),
      flushed: async () => undefined,
    };
  }

  private openNativeViewer(track: SessionTrack, user: FaultUser): void {
    const id = `viewer-${track.index}`;
    const log: ViewerLog = { stack: "socketio", ns: [], times: [], seqs: [], from: 0 };
    const viewer = new ViewerClient({ url: this.options.url, sessionId: track.sessionId as string, apiKey: user.key, ioOptions: { transports: ["websocket"] } });
    viewer.on("event", (e) => {
      const n = (e.event as { src?: string; n?: number } | undefined)?.src === "fault" && !e.snapshot ? (e.event as { n: number }).n : undefined;
      if (n !== undefined) {
        log.ns.push(n);
        log.times.push(performance.now());
      }
    });
    let joined = false;
    viewer.on("synced", () => {
      if (!joined) track.viewers.push(log);
      joined = true;
      this.outages.ready(id);
    });
    viewer.socket.on("connect", () => {
      if (viewer.socket.recovered) this.outages.ready(id);
    });
    this.outages.watch(id, viewer.socket);
    viewer.on("ended", (reason) => track.ended.push(`viewer: ${reason}`));
    this.closers.push(() => viewer.close());
  }

  private openLegacyViewer(track: SessionTrack, user: FaultUser): void {
    if (this.closed) return;
    const id = `legacy-viewer-${track.index}`;
    const log: ViewerLog = { stack: "legacy", ns: [], times: [], seqs: [], from: -1 };
    const viewer = new LegacyViewerClient(this.options.url, user.cookie, track.sessionId as string);
    let closedByUs = false;
    viewer.on("frame", (frame: Frame) => {
      if (frame.type === "connected" && typeof frame.lastSeq === "number") {
        if (log.from < 0) {
          log.from = frame.lastSeq;
          track.viewers.push(log);
        } else {
          // The session started over (a new incarnation): a new position, not a gap.
          log.seqs.push(-1, frame.lastSeq);
        }
        this.outages.ready(id);
      } else if (frame.type === "event" && typeof frame.seq === "number") {
        const inner = frame.event as { src?: string; n?: number } | undefined;
        log.seqs.push(frame.seq);
        if (inner?.src === "fault" && typeof inner.n === "number") {
          log.ns.push(inner.n);
          log.times.push(performance.now());
        }
      } else if (frame.type === "disconnected") {
        track.ended.push(`legacy viewer: ${String(frame.reason)}`);
      }
    });
    let opened = false;
    viewer.on("open", () => (opened = true));
    const reopen = (): void => {
      if (closedByUs || this.closed) return;
      closedByUs = true;
      this.outages.lost(id, "legacy");
      // As a user reloading the page: at once, and a moment later again while it is refused.
      setTimeout(() => this.openLegacyViewer(track, user), opened ? 0 : 200);
    };
    viewer.on("close", reopen);
    viewer.on("refused", () => undefined);
    viewer.start();
    this.closers.push(() => {
      closedByUs = true;
      viewer.stop();
    });
  }

  private openHubs(user: FaultUser, ready: () => void): void {
    const nativeId = `hub-${user.userId}`;
    const hub = new HubClient({ url: this.options.url, apiKey: user.key, ioOptions: { transports: ["websocket"] } });
    let counted = false;
    const up = (): void => {
      if (!counted) ready();
      counted = true;
      this.outages.ready(nativeId);
    };
    hub.on("sessions", up);
    hub.socket.on("connect", () => {
      if (hub.socket.recovered) up();
    });
    this.outages.watch(nativeId, hub.socket);
    this.closers.push(() => hub.close());

    const legacyId = `legacy-hub-${user.userId}`;
    const legacy = new LegacyHubClient(this.options.url, user.cookie);
    let legacyCounted = false;
    legacy.on("frame", (frame: Frame) => {
      if (frame.type !== "sessions") return;
      if (!legacyCounted) ready();
      legacyCounted = true;
      this.outages.ready(legacyId);
    });
    legacy.on("close", () => this.outages.lost(legacyId, "legacy"));
    legacy.start();
    this.closers.push(() => legacy.stop());
  }

  private openRunners(user: FaultUser, ready: () => void): void {
    const secret = (): string => randomBytes(12).toString("hex");
    const once = (): (() => void) => {
      let done = false;
      return () => {
        if (!done) ready();
        done = true;
      };
    };
    for (const generation of ["socket-unversioned", "socket-v1"] as const) {
      const id = `runner-${generation}`;
      const first = once();
      const runner = new FieldRunner({ url: this.options.url, apiKey: user.key, generation, runnerId: `fault-${generation}-${secret()}`, runnerSecret: secret(), name: generation });
      runner.socket.on("runner_registered", () => {
        first();
        this.outages.ready(id);
      });
      this.outages.watch(id, runner.socket);
      runner.start();
      this.closers.push(() => runner.stop());
    }
    const nativeFirst = once();
    const native = new RunnerClient({ url: this.options.url, apiKey: user.key, runnerId: `fault-current-${secret()}`, runnerSecret: secret(), name: "current" });
    native.on("registered", () => {
      nativeFirst();
      this.outages.ready("runner-current");
    });
    this.outages.watch("runner-current", native.socket);
    this.closers.push(() => native.close());
    const legacyFirst = once();
    const legacy = new LegacyRunnerClient({ relayUrl: this.options.url, apiKey: user.key, runnerId: `fault-legacy-${secret()}`, runnerSecret: secret(), name: "legacy" });
    legacy.on("frame", (frame: Frame) => {
      if (frame.type !== "runner_registered") return;
      legacyFirst();
      this.outages.ready("runner-legacy");
    });
    legacy.on("close", () => this.outages.lost("runner-legacy", "legacy"));
    legacy.start();
    this.closers.push(() => legacy.stop());
  }
}
