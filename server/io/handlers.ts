import { z } from "zod";
import {
  errorBody,
  failure,
  nestedDeeperThan,
  validate,
  type ErrorBody,
  type NamespaceMaps,
  type NamespaceName,
  type PayloadOf,
} from "../../protocol/index.js";
import type { Socket } from "socket.io";
import type { EventsMap } from "@socket.io/component-emitter";
import { wireOf } from "../observability/connections.js";
import { reportRefusal, type Observer } from "../observability/refusals.js";
import { StateUnavailableError } from "../state/timeouts.js";
import { EventRateLimiter } from "./rate-limit.js";
import type { TypedSocket } from "./typed.js";

/** The shape every namespace entry of NamespaceMaps has. */
export interface NamespaceSpec {
  c2s: object;
  s2c: object;
  inter: object;
  data: object;
  schemas: Record<string, z.ZodType>;
}

type EventOf<M extends NamespaceSpec> = keyof M["schemas"] & keyof M["c2s"] & string;

type SpecSocket<M extends NamespaceSpec> = Socket<
  M["c2s"] & EventsMap,
  M["s2c"] & EventsMap,
  M["inter"] & EventsMap,
  M["data"]
>;

/** The acknowledgement callback a client may pass with event K (undefined when it passed none). */
export type AckOf<M extends NamespaceSpec, K extends EventOf<M>> = Parameters<Extract<M["c2s"][K], (...args: never[]) => unknown>>[1];

export type SpecHandler<M extends NamespaceSpec, K extends EventOf<M>> = (
  socket: SpecSocket<M>,
  payload: z.output<M["schemas"][K]>,
  ack: AckOf<M, K>,
) => void | Promise<void>;

/**
 * One handler per client event of a namespace. The mapped type makes a missing handler a compile
 * error: adding an event to a protocol map without handling it fails `tsc` (test/types/).
 */
export type HandlersFor<M extends NamespaceSpec> = { [K in EventOf<M>]: SpecHandler<M, K> };

export type HandlerTable<N extends NamespaceName> = HandlersFor<NamespaceMaps[N]>;
type EventName<N extends NamespaceName> = EventOf<NamespaceMaps[N]>;
type Schemas<N extends NamespaceName> = NamespaceMaps[N]["schemas"];
export type AckFor<N extends NamespaceName, K extends EventName<N>> = AckOf<NamespaceMaps[N], K>;

/** Thrown by handlers for an expected refusal: it becomes the typed error reply, logged at info. */
export class RequestError extends Error {
  constructor(readonly body: ErrorBody) {
    super(body.message);
  }
}

/**
 * Attaches every handler of the table to the socket, each behind the namespace's schema. Untrusted
 * input never reaches a handler unvalidated, a handler's rejection never escapes (a stray rejection
 * crashed the legacy server), and the client always learns why a request failed: through its ack if it
 * passed one, through an `error` event otherwise.
 */
export function bindHandlers<N extends NamespaceName>(
  socket: TypedSocket<N>,
  schemas: Schemas<N>,
  handlers: HandlerTable<N>,
  sendError: (error: ErrorBody) => void,
  obs: Observer,
  options: {
    sequential?: boolean;
    maxJsonDepth: number;
    eventsPerSecond: number;
    /** Told of every event refused before or by its handler (the CLI's acks must not cover it). */
    onRefused?: (event: string, payload: unknown) => void;
  },
): void {
  const { log } = obs;
  const wire = wireOf(socket);
  const rate = new EventRateLimiter(options.eventsPerSecond);
  // Sequential: each frame's handler starts when the previous one finished, so frames of different types
  // take effect in the order the client sent them (handlers await different numbers of round trips).
  let previous: Promise<void> = Promise.resolve();
  // An event the namespace does not serve is ignored (clients of newer generations send some), but one
  // sent with an ack is refused through it at once instead of leaving the client to its timeout.
  const served = new Set(Object.keys(handlers));
  socket.use((packet, next) => {
    const [event] = packet;
    if (typeof event === "string" && served.has(event)) return next();
    const name = String(event).slice(0, 64);
    const last: unknown = packet[packet.length - 1];
    if (packet.length > 1 && typeof last === "function") {
      (last as (reply: unknown) => void)(failure("unknown_event", `This relay does not serve ${JSON.stringify(name)} on ${socket.nsp.name}`));
      reportRefusal(obs, "unknown_event", wire, { event: name, socket: socket.id }, "unknown event refused");
    } else log.debug({ event: name, socket: socket.id }, "unknown event ignored");
  });
  for (const event of Object.keys(handlers) as Array<EventName<N>>) {
    const schema = (schemas as Record<string, z.ZodType>)[event];
    const handler = handlers[event];
    if (!schema) throw new Error(`No schema for event ${event}`);
    const listener = (...args: unknown[]): void => {
      const last = args[args.length - 1];
      const ack = typeof last === "function" ? (args.pop() as (reply: unknown) => void) : undefined;
      const reply = (body: ErrorBody): void => {
        options.onRefused?.(event, args[0]);
        if (ack) ack(failure(body.code, body.message));
        else sendError(body);
      };
      // Every client event of the connection draws from one bucket (PIZZAPI_MAX_EVENTS_PER_SECOND).
      if (!rate.take()) {
        reportRefusal(obs, "rate_limited", wire, { event, socket: socket.id }, "event refused: rate limit");
        reply(errorBody("rate_limited", `More than ${options.eventsPerSecond} events per second (PIZZAPI_MAX_EVENTS_PER_SECOND)`));
        return;
      }
      // Depth first: a value thousands of levels deep would overflow the stack of whatever walks it next.
      // (The bridge already checked a legacy frame whole: its payload is part of it.)
      const checked = wire !== "legacy" && nestedDeeperThan(args[0], options.maxJsonDepth)
        ? ({ ok: false, error: errorBody("invalid_payload", `Invalid ${event} payload: nested deeper than ${options.maxJsonDepth} levels`) } as const)
        : validate(schema, args[0] ?? {}, `${event} payload`);
      if (!checked.ok) {
        reportRefusal(obs, checked.error.code, wire, { event, socket: socket.id, message: checked.error.message }, "invalid payload refused");
        reply(checked.error);
        return;
      }
      const run = async (): Promise<void> => {
        await handler(socket as SpecSocket<NamespaceMaps[N]>, checked.value as PayloadOf<Schemas<N>, typeof event>, ack as AckFor<N, typeof event>);
      };
      const started = options.sequential ? previous.then(run) : run();
      if (options.sequential) previous = started.catch(() => undefined);
      started.catch((err: unknown) => {
        if (err instanceof RequestError) {
          reportRefusal(obs, err.body.code, wire, { event, socket: socket.id, message: err.body.message }, "request refused");
          reply(err.body);
          return;
        }
        const code = err instanceof StateUnavailableError ? "unavailable" : "internal";
        if (code === "internal") log.error({ err, event, socket: socket.id }, "handler failed");
        reportRefusal(obs, code, wire, { event, socket: socket.id }, "request failed");
        reply(errorBody(code));
      });
    };
    (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, listener);
  }
}
