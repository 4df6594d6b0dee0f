import type { ModelSummary } from "../../protocol/index.js";
import type { TypedSocket } from "../io/typed.js";
import type { SessionRecord } from "../state/types.js";
import { modelKey } from "./normalize.js";
import { ThinkingTracker } from "./thinking.js";

/**
 * Node-local state of one CLI connection: what only the node holding the CLI's socket needs (the
 * thinking timers, the last hub status it announced). Nothing here addresses another party; everything
 * shared lives in SharedState and every delivery goes through a room.
 */
export interface CliConnection {
  thinking: ThinkingTracker;
  status: { isActive: boolean; modelKey: string | null; model: ModelSummary | null; sessionName: string | null; lastHeartbeatAt: string | null };
  isEphemeral: boolean;
  userId: string;
}

const connections = new WeakMap<TypedSocket<"/relay">, CliConnection>();

export function attachConnection(socket: TypedSocket<"/relay">, record: SessionRecord, clock: () => number): CliConnection {
  const conn: CliConnection = {
    thinking: new ThinkingTracker(clock),
    status: {
      isActive: record.isActive,
      model: record.model,
      modelKey: modelKey(record.model),
      sessionName: record.sessionName,
      lastHeartbeatAt: record.lastHeartbeatAt,
    },
    isEphemeral: record.isEphemeral,
    userId: record.userId,
  };
  connections.set(socket, conn);
  return conn;
}

export function getConnection(socket: TypedSocket<"/relay">): CliConnection | undefined {
  return connections.get(socket);
}

export function detachConnection(socket: TypedSocket<"/relay">): void {
  connections.get(socket)?.thinking.reset();
  connections.delete(socket);
}
