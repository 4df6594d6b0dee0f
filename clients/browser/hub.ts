import { io, type Socket } from "socket.io-client";
import type { ErrorBody } from "../../protocol/errors.js";
import type { HubClientToServer, HubServerToClient } from "../../protocol/namespaces/hub.js";
import type { SessionAdded, SessionInfo, SessionStatus } from "../../protocol/shared.js";
import type { ConnectionStatus } from "../socketio/status.js";
import { BrowserClient, namespaceUrl, socketOptions, StatusFeed, type BaseClientOptions } from "./shared.js";

export type HubSocket = Socket<HubServerToClient, HubClientToServer>;

/** A listed session: from the `sessions` list, or added later (`viewerCount`/`expiresAt` then unknown). */
export type HubSession = SessionAdded & Partial<Pick<SessionInfo, "viewerCount" | "expiresAt">>;

export type HubClientOptions = BaseClientOptions;

export interface HubClientEvents {
  status: (status: ConnectionStatus) => void;
  /** The full list (on every non-recovered connection): it replaces `sessions`. */
  sessions: (sessions: SessionInfo[]) => void;
  session_added: (session: SessionAdded) => void;
  session_removed: (sessionId: string) => void;
  session_status: (status: SessionStatus) => void;
  error: (error: ErrorBody) => void;
}

/**
 * `/hub`: the user's live sessions. `sessions` is kept current: replaced by each full list, then
 * updated by `session_added` (de-duplicated by id), `session_removed` and `session_status`.
 */
export class HubClient extends BrowserClient<HubSocket, HubClientEvents> {
  readonly socket: HubSocket;
  protected readonly feed: StatusFeed;
  private readonly map = new Map<string, HubSession>();

  constructor(options: HubClientOptions) {
    super();
    this.socket = io(namespaceUrl(options.url, "/hub"), socketOptions(options, () => ({})));
    this.feed = new StatusFeed(this.socket, (status) => this.emitReserved("status", status));
    const socket = this.socket;
    socket.on("sessions", ({ sessions }) => {
      this.map.clear();
      for (const session of sessions) this.map.set(session.sessionId, session);
      this.emitReserved("sessions", sessions);
    });
    socket.on("session_added", (session) => {
      this.map.set(session.sessionId, { ...this.map.get(session.sessionId), ...session });
      this.emitReserved("session_added", session);
    });
    socket.on("session_removed", ({ sessionId }) => {
      this.map.delete(sessionId);
      this.emitReserved("session_removed", sessionId);
    });
    socket.on("session_status", (status) => {
      const known = this.map.get(status.sessionId);
      if (known) this.map.set(status.sessionId, { ...known, ...status });
      this.emitReserved("session_status", status);
    });
    socket.on("error", (error) => {
      this.feed.error(error);
      this.emitReserved("error", error);
    });
  }

  /** The current sessions by id. */
  get sessions(): ReadonlyMap<string, HubSession> {
    return this.map;
  }
}
