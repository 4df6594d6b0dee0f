import type { Context, Hono } from "hono";
import { z } from "zod";
import type { RelayContext } from "../sessions/context.js";
import { caller, jsonBody } from "./identity.js";

const httpUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === "https:" || protocol === "http:";
    } catch {
      return false;
    }
  }, "must be an http(s) URL");

const key = z.string().min(1).max(512);

const SubscribeBody = z.object({
  subscription: z.object({
    endpoint: httpUrl,
    keys: z.object({ p256dh: key, auth: key }),
  }),
  enabledEvents: z
    .union([z.string().trim().min(1).max(512), z.array(z.string().trim().min(1).max(64)).min(1).max(32)])
    .optional(),
});

const UnsubscribeBody = z.object({ endpoint: z.string().min(1).max(2048) });

/**
 * Web Push subscriptions of the caller (legacy 2.8: the `push_subscription` rows). Any node serves
 * them: subscriptions live in shared state, and whichever node publishes an event sends the push.
 */
export function mountPushRoutes(app: Hono, ctx: RelayContext): void {
  const parse = async <S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S> | Response> => {
    const checked = schema.safeParse((await jsonBody(c)) ?? undefined);
    if (!checked.success) return c.json({ error: `Invalid request: ${checked.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}` }, 400);
    return checked.data;
  };

  app.get("/api/push/vapid-public-key", (c) => {
    const vapid = ctx.config.vapid;
    return vapid ? c.json({ publicKey: vapid.publicKey }) : c.json({ error: "Push notifications are not configured" }, 404);
  });

  app.post("/api/push/subscriptions", async (c) => {
    const who = await caller(ctx, c);
    if (!who.ok) return c.json({ error: who.error }, who.status);
    const body = await parse(c, SubscribeBody);
    if (body instanceof Response) return body;
    const events = body.enabledEvents ?? "*";
    const enabledEvents = typeof events === "string" ? events : events.join(",");
    const { endpoint, keys } = body.subscription;
    try {
      await ctx.state.push.add({
        endpoint,
        keys: { p256dh: keys.p256dh, auth: keys.auth },
        enabledEvents,
        userId: who.identity.userId,
        createdAt: new Date(ctx.clock()).toISOString(),
      });
    } catch (err) {
      ctx.log.error({ err, userId: who.identity.userId }, "push subscribe failed: shared state unavailable");
      return c.json({ error: "Shared state unavailable" }, 503);
    }
    ctx.log.info({ userId: who.identity.userId, origin: new URL(endpoint).origin, enabledEvents }, "push subscription added");
    return c.json({ ok: true });
  });

  app.delete("/api/push/subscriptions", async (c) => {
    const who = await caller(ctx, c);
    if (!who.ok) return c.json({ error: who.error }, who.status);
    const body = await parse(c, UnsubscribeBody);
    if (body instanceof Response) return body;
    let removed: boolean;
    try {
      removed = await ctx.state.push.remove(who.identity.userId, body.endpoint);
    } catch (err) {
      ctx.log.error({ err, userId: who.identity.userId }, "push unsubscribe failed: shared state unavailable");
      return c.json({ error: "Shared state unavailable" }, 503);
    }
    if (removed) ctx.log.info({ userId: who.identity.userId }, "push subscription removed");
    return c.json({ ok: true, removed });
  });
}
