/**
 * Type-level test, checked by `tsc --noEmit` (the first step of `npm test`): an event added to a
 * namespace's protocol map without a handler fails to compile. If the `@ts-expect-error` below stopped
 * being an error (the completeness check broke), tsc would fail with "Unused '@ts-expect-error'".
 */
import { z } from "zod";
import { viewerClientSchemas, type ClientEventMap, type NamespaceMaps } from "../../protocol/index.js";
import type { HandlersFor } from "../../server/io/handlers.js";

type Viewer = NamespaceMaps["/viewer"];

const ok = (): void => undefined;
const viewerHandlers = { resync: ok, catch_up: ok, connected: ok, input: ok, model_set: ok, exec: ok };

// Control: today's viewer map is fully handled by these six handlers.
export const complete: HandlersFor<Viewer> = viewerHandlers;

// The same map with one more client event, as a protocol change would add it: schema and map entry.
const extendedSchemas = { ...viewerClientSchemas, pin_message: z.object({ messageId: z.string() }) };
type ExtendedViewer = Omit<Viewer, "schemas" | "c2s"> & {
  schemas: typeof extendedSchemas;
  c2s: ClientEventMap<typeof extendedSchemas, Record<never, never>>;
};

// @ts-expect-error `pin_message` has no handler: the table is incomplete.
export const incomplete: HandlersFor<ExtendedViewer> = viewerHandlers;

// Handling it makes the table complete again.
export const completed: HandlersFor<ExtendedViewer> = { ...viewerHandlers, pin_message: ok };

// A handler for an event the protocol does not define is refused too.
// @ts-expect-error `not_an_event` is not in the viewer map.
export const extra: HandlersFor<Viewer> = { ...viewerHandlers, not_an_event: ok };
