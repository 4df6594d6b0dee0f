import type { z } from "zod";
import type { Ack } from "./errors.js";

/**
 * Builds a Socket.IO client→server event map from a table of payload schemas and a table of reply
 * types. The schemas are the single source of truth: the static payload type of every event is derived
 * from its schema, so the runtime validator and the compiler cannot disagree.
 *
 * Every client event takes an optional acknowledgement: it answers with the event's reply type (or `{}`)
 * or with a typed error.
 */
export type ClientEventMap<S extends SchemaTable, R extends Partial<Record<keyof S, object>>> = {
  [K in keyof S]: (payload: z.input<S[K]>, ack?: Ack<ReplyOf<R, K>>) => void;
};

export type SchemaTable = Record<string, z.ZodType>;

export type ReplyOf<R, K extends PropertyKey> = K extends keyof R ? (R[K] extends object ? R[K] : Record<never, never>) : Record<never, never>;

/** The validated payload a server handler receives for event K. */
export type PayloadOf<S extends SchemaTable, K extends keyof S> = z.output<S[K]>;

/** Socket.IO's inter-server map for a namespace that needs no server-side events. */
export type NoInterServerEvents = Record<never, never>;
