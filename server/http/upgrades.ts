import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { ERRORS, LEGACY_PATHS } from "../../protocol/index.js";
import { reportRefusal, type Observer } from "../observability/refusals.js";
import type { UpgradeRefusal, UpgradeRequest, UpgradeVerdict } from "../plugins/types.js";
import { clientAddress, type TrustProxy } from "./client-address.js";
import { pathnameOf } from "./path.js";
import { refuseUpgrade } from "./refuse-upgrade.js";

type Guard = (req: IncomingMessage) => UpgradeVerdict | Promise<UpgradeVerdict>;

const NOT_FOUND: UpgradeRefusal = { code: "not_found", body: JSON.stringify({ error: "Not found" }), contentType: "application/json" };
const NODE_STOPPING: UpgradeRefusal = { code: "node_stopping", body: ERRORS.node_stopping.message, headers: { "Retry-After": "1" } };

/**
 * The relay owns the HTTP `upgrade` event (engine.io's own listener is removed): `/socket.io/` goes to
 * engine.io; a path under a plugin's claimed prefix goes to that plugin, after the guards of its
 * prefixes; anything else gets the unclaimed answer of its prefix, or 404. Every upgrade is answered
 * (docs/architecture.md section 5).
 */
export class UpgradeRouter {
  private readonly claims: Array<{ prefix: string; handler: (upgrade: UpgradeRequest) => void }> = [];
  private readonly guards: Array<{ prefix: string; guard: Guard }> = [];
  private readonly unclaimed: Array<{ prefix: string; answer: (req: IncomingMessage) => UpgradeRefusal }> = [];

  constructor(
    private readonly obs: Observer,
    private readonly engine: { path: string; handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void },
    /** True once a stopping node no longer takes connections (after its drain delay). */
    private readonly closing: () => boolean = () => false,
    /** Which peers are proxies whose X-Forwarded-For is believed (the client address in refusal logs). */
    private readonly trust: TrustProxy = { kind: "off" },
  ) {}

  claim(prefix: string, handler: (upgrade: UpgradeRequest) => void): void {
    if (this.claims.some((c) => c.prefix === prefix) || prefix.startsWith(this.engine.path)) throw new Error(`Upgrade prefix ${prefix} is already claimed`);
    this.claims.push({ prefix, handler });
  }

  guard(prefix: string, guard: Guard): void {
    this.guards.push({ prefix, guard });
  }

  answerUnclaimed(prefix: string, answer: (req: IncomingMessage) => UpgradeRefusal): void {
    this.unclaimed.push({ prefix, answer });
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    // An `upgrade` listener must never throw: it would end the process.
    try {
      this.dispatch(req, socket, head);
    } catch (err) {
      this.obs.log.error({ err }, "upgrade failed");
      socket.destroy();
    }
  };

  private dispatch(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = pathnameOf(req.url);
    const refuse = (refusal: UpgradeRefusal): void => {
      const wire = path.startsWith(LEGACY_PATHS.prefix) ? "legacy" : (req.url ?? "").startsWith(this.engine.path) ? "socketio" : "http";
      const ip = clientAddress(this.trust, req.socket.remoteAddress, req.headers);
      reportRefusal(this.obs, refusal.code, wire, { path, status: ERRORS[refusal.code].http, ip }, "upgrade refused");
      refuseUpgrade(socket, refusal);
    };
    // A stopping node sends every client elsewhere: a retryable 503 on every path (clients of both
    // stacks try again, and a load balancer picks another node).
    if (this.closing()) return refuse(NODE_STOPPING);
    if ((req.url ?? "").startsWith(this.engine.path)) {
      this.engine.handleUpgrade(req, socket, head);
      return;
    }
    this.route(path, req, socket, head, refuse).catch((err: unknown) => {
      this.obs.log.error({ err, path }, "upgrade failed");
      refuse({ code: "internal", body: "Internal error" });
    });
  }

  private async route(path: string, req: IncomingMessage, socket: Duplex, head: Buffer, refuse: (refusal: UpgradeRefusal) => void): Promise<void> {
    const responseHeaders: Record<string, string> = {};
    for (const { prefix, guard } of this.guards) {
      if (!path.startsWith(prefix)) continue;
      const verdict = await guard(req);
      if (verdict && "refuse" in verdict) return refuse(verdict.refuse);
      if (verdict) Object.assign(responseHeaders, verdict.headers);
    }
    const claim = longest(this.claims, path);
    if (claim) return claim.handler({ req, socket, head, responseHeaders, refuse });
    refuse(longest(this.unclaimed, path)?.answer(req) ?? NOT_FOUND);
  }
}

function longest<T extends { prefix: string }>(entries: T[], path: string): T | undefined {
  let best: T | undefined;
  for (const entry of entries) if (path.startsWith(entry.prefix) && (!best || entry.prefix.length > best.prefix.length)) best = entry;
  return best;
}
