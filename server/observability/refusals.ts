import { LEGACY_TRANSPORT_NAME, type ErrorCode } from "../../protocol/index.js";
import type { Logger } from "../logger.js";
import type { RelayMetrics, Wire } from "./metrics.js";

export interface Observer {
  log: Logger;
  metrics: RelayMetrics;
}

/**
 * Every refusal the relay answers is reported here, once: one log line with its code and context, and
 * the `pizzapi_refusals_total{code, wire}` counter (docs/operations.md). Handshakes also count in
 * `pizzapi_handshakes_total` under their outcome.
 */
export function reportRefusal(obs: Observer, code: ErrorCode, wire: Wire, fields: Record<string, unknown>, what: string): void {
  obs.metrics.refusals.inc({ code, wire });
  obs.log.info({ ...bounded(fields), code, wire }, what);
}

/** A refused request's ids and messages are the client's: at most this much of each reaches a line. */
const MAX_FIELD_CHARS = 200;

function bounded(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = typeof value === "string" && value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value;
  return out;
}

export function reportHandshakeRefusal(obs: Observer, code: ErrorCode, fields: { namespace: string; generation: string; transport: string } & Record<string, unknown>): void {
  obs.metrics.handshakes.inc({ namespace: fields.namespace, generation: fields.generation, outcome: code });
  reportRefusal(obs, code, fields.transport === LEGACY_TRANSPORT_NAME ? "legacy" : "socketio", fields, "handshake refused");
}
