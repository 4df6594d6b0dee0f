import { z } from "zod";
import {
  errorBody,
  failure,
  validate,
  type ErrorBody,
  type NamespaceMaps,
  type NamespaceName,
  type PayloadOf,
} from "../../protocol/index.js";
import type { Logger } from "../logger.js";
import type { TypedSocket } from "./typed.js";

type Maps<N extends NamespaceName> = NamespaceMaps[N];
type Schemas<N extends NamespaceName> = Maps<N>["schemas"];
type EventName<N extends NamespaceName> = keyof Schemas<N> & keyof Maps<N>["c2s"] & string;

/** The acknowledgement callback a client may pass with event K (undefined when it passed none). */
export type AckFor<N extends NamespaceName, K extends EventName<N>> = Parameters<
  Extract<Maps<N>["c2s"][K], (...args: never[]) => unknown>
>[1];

export type Handler<N extends NamespaceName, K extends EventName<N>> = (
  socket: TypedSocket<N>,
  payload: PayloadOf<Schemas<N>, K>,
  ack: AckFor<N, K>,
) => void | Promise<void>;

/**
 * One handler per client event of the namespace. The mapped type makes a missing handler a compile
 * error: adding an event to a protocol map without handling it fails `tsc` (see test/types).
 */
export type HandlerTable<N extends NamespaceName> = { [K in EventName<N>]: Handler<N, K> };

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
  log: Logger,
): void {
  for (const event of Object.keys(handlers) as Array<EventName<N>>) {
    const schema = (schemas as Record<string, z.ZodType>)[event];
    const handler = handlers[event];
    if (!schema) throw new Error(`No schema for event ${event}`);
    const listener = (...args: unknown[]): void => {
      const last = args[args.length - 1];
      const ack = typeof last === "function" ? (args.pop() as (reply: unknown) => void) : undefined;
      const reply = (body: ErrorBody): void => (ack ? ack(failure(body.code, body.message)) : sendError(body));
      const checked = validate(schema, args[0] ?? {}, `${event} payload`);
      if (!checked.ok) {
        log.info({ event, socket: socket.id, error: checked.error }, "invalid payload refused");
        reply(checked.error);
        return;
      }
      const run = async (): Promise<void> => {
        await handler(socket, checked.value as PayloadOf<Schemas<N>, typeof event>, ack as AckFor<N, typeof event>);
      };
      run().catch((err: unknown) => {
        if (err instanceof RequestError) {
          log.info({ event, socket: socket.id, error: err.body }, "request refused");
          reply(err.body);
          return;
        }
        log.error({ err, event, socket: socket.id }, "handler failed");
        reply(errorBody("internal"));
      });
    };
    (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, listener);
  }
}
