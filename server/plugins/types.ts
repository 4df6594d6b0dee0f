import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Command } from "commander";
import type { Env, Hono } from "hono";
import type { ErrorBody, ErrorCode, Generation, NamespaceName } from "../../protocol/index.js";
import type { Authenticated, CredentialKind, Credentials } from "../auth/authenticate.js";
import type { RelayConfig, SettingsSchema } from "../config.js";
import type { Logger } from "../logger.js";
import type { RelayMetrics } from "../observability/metrics.js";
import type { RedisCommandClient } from "../state/redis.js";

/**
 * The contract between the relay and its plugins (docs/architecture.md, "Plugins"). The legacy bridge
 * and the migration control plane are plugins of this one kind: each sees only what it needs, never the
 * server's internals, so either can be deleted with its folder and its line in the composition root.
 */
export interface RelayPlugin {
  name: string;
  /** Attaches to a node being built (before it listens). */
  attach?(api: PluginApi): void | Promise<void>;
  /** Subcommands this plugin adds to `pizzapi-relay` (commander). */
  commands?(program: Command, env: NodeJS.ProcessEnv): void;
  /**
   * The plugin's settings (environment variables), each with `.describe()`: checked before a node
   * starts, and listed by `start --help`.
   */
  settings?: SettingsSchema;
}

/** An HTTP answer to an upgrade request that is not accepted. */
export interface UpgradeRefusal {
  /** What it is: its HTTP status, log line and refusal counter follow (protocol/error-codes.ts). */
  code: ErrorCode;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A guard's decision on an upgrade before its claim sees it. */
export type UpgradeVerdict = { refuse: UpgradeRefusal } | { headers: Record<string, string> } | undefined;

export interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  /** Headers the guards asked to add to the 101 response (e.g. `Deprecation`, `Sunset`). */
  responseHeaders: Record<string, string>;
  /** Answers the upgrade with `refusal` and closes the socket; logged and counted. */
  refuse(refusal: UpgradeRefusal): void;
}

/** A connection as plugins see it (its namespace socket's identity, versions and transport). */
export interface ConnectionView {
  id: string;
  namespace: NamespaceName;
  generation: Generation;
  transport: string;
  userId: string;
  clientVersion: string | null;
  protocolVersion: string;
  /** `/runner` connections once registered. */
  runnerId: string | null;
  /** `/relay` connections once registered. */
  sessionId: string | null;
  keyId: string | null;
}

/**
 * Decides on a client event before the namespace handles it: undefined lets it through; a refusal is
 * answered through the event's ack (or an `error` event) and, with `disconnect`, ends the connection.
 */
export type EventGate = (conn: ConnectionView, event: string, payload: unknown) => EventGateVerdict | Promise<EventGateVerdict>;
export type EventGateVerdict = { refuse: ErrorBody; disconnect?: boolean } | undefined;

/** Refuses a handshake (a typed connect_error) by returning an error body, or admits it (undefined). */
export type HandshakeGate = (conn: ConnectionView) => ErrorBody | undefined | Promise<ErrorBody | undefined>;

export interface PluginApi {
  readonly config: RelayConfig;
  readonly log: Logger;
  /** The cluster's Redis (a connected command client, owned by the relay), or null in embedded mode. */
  readonly redis: RedisCommandClient | null;
  /** The node's metrics: plugins count into them and add their own to `metrics.registry`. */
  readonly metrics: RelayMetrics;

  /** Upgrades whose path starts with `prefix` go to `handler` (one claim per prefix). */
  claimUpgrade(prefix: string, handler: (upgrade: UpgradeRequest) => void): void;
  /** Runs before the claim (or the unclaimed answer) of upgrades under `prefix`: may refuse, or add headers. */
  guardUpgrade(prefix: string, guard: (req: IncomingMessage) => UpgradeVerdict | Promise<UpgradeVerdict>): void;
  /** The answer to upgrades under `prefix` that no plugin claims (otherwise: 404). */
  answerUnclaimed(prefix: string, answer: (req: IncomingMessage) => UpgradeRefusal): void;
  /** Mounts REST routes under `basePath`. */
  route<E extends Env>(basePath: string, app: Hono<E>): void;
  /** Admission policy for a namespace's handshakes (after authentication and generation routing). */
  gateHandshakes(namespace: NamespaceName, gate: HandshakeGate): void;
  /** Policy for some of a namespace's client events (`events`), before validation and handlers. */
  gateEvents(namespace: NamespaceName, events: readonly string[], gate: EventGate): void;

  /** The one authentication of the relay (server/auth/authenticate.ts). */
  authenticate(creds: Credentials, accept: readonly CredentialKind[]): Promise<Authenticated>;
  /**
   * Hands a connection on a custom engine.io transport to the engine (the legacy bridge's `legacy-ws`):
   * the engine builds its socket on it as for its own transports. Resolves with the transport instance,
   * or undefined when the engine refused.
   */
  adoptConnection(transportName: string, req: IncomingMessage, onRefused: (code?: number) => void): Promise<unknown>;

  /** This node's live connections, every namespace. */
  connections(): Iterable<ConnectionView>;
  /** Closes one of this node's connections for `code` (an `error {code, message}` first, then the close). */
  disconnect(id: string, namespace: NamespaceName, code: ErrorCode, message?: string): void;
  /** Whether a session is live and owned by the user (for admission policies). */
  sessionIsLive(sessionId: string, userId: string): Promise<boolean>;
  /** The relay nodes the adapter knows of (the cluster view), itself included; null when unknown. */
  clusterSize(): Promise<number | null>;
  /** True once the node is stopping. */
  isDraining(): boolean;
  /** Runs when the node stops, before its Redis connections close. */
  onStop(hook: () => void | Promise<void>): void;
}
