import { createECDH } from "node:crypto";
import type { Agent } from "node:https";
import webpush from "web-push";
import { ConfigError, type RelayConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { PushSubscriptionRecord, SharedState } from "../state/types.js";
import { notificationFor, sessionLabel, wantsType, type PushPayload } from "./notifications.js";

/** How long a push service keeps an undelivered notification (seconds): it is about "now" or nothing. */
export const PUSH_TTL_SECONDS = 60;

export interface PushSessionInfo {
  sessionId: string;
  userId: string;
  sessionName: string | null;
}

export interface PushNotifier {
  /** False when VAPID keys are not configured: every event is then ignored. */
  readonly enabled: boolean;
  /**
   * Called after each published CLI event (legacy 2.8). Fire-and-forget: returns at once, never throws;
   * any delivery runs in the background and its failures are logged.
   */
  onSessionEvent(session: PushSessionInfo, event: unknown): void;
  /** Resolves when every delivery started so far has finished (tests; graceful shutdown). */
  settled(): Promise<void>;
}

export interface PushNotifierDeps {
  config: RelayConfig;
  state: SharedState;
  log: Logger;
  /**
   * Viewers of the session, cluster-wide: a count, or null when unknown (presence timed out or failed).
   * Wire it to `countIn(ctx, ctx.viewer, rooms.session(sessionId))`.
   */
  viewerCount: (sessionId: string) => Promise<number | null>;
  /** HTTPS agent for push service requests (tests: trust a local push service). Default: Node's global agent. */
  agent?: Agent;
}

type Delivery = "sent" | "gone" | "failed";

/**
 * Web Push notifications of session events (legacy 2.8): sent only when the session has no viewer
 * anywhere in the cluster, to each subscription of the session's owner that wants the type.
 *
 * Unknown presence: when the cluster cannot say how many viewers the session has (presence lookup
 * timed out or failed, `viewerCount` → null), NOTHING is sent and a warning is logged. A missed
 * notification is the lesser harm: pushing to someone who is watching the session is the thing the
 * zero-viewer rule exists to prevent, and an unknown presence means the cluster is degraded, when
 * extra outbound work is least welcome.
 *
 * Never logged: the subscription keys (p256dh, auth) and the endpoint URL (a bearer capability for
 * the push service); only the endpoint's origin is.
 *
 * Throws a ConfigError when VAPID keys are set but unusable (malformed, not a pair, bad subject), so a
 * misconfiguration stops the relay at startup instead of failing every delivery later.
 */
export function createPushNotifier(deps: PushNotifierDeps): PushNotifier {
  const { config, state, log, viewerCount, agent } = deps;
  const vapid = config.vapid;
  if (vapid) checkVapid(vapid);
  const inflight = new Set<Promise<void>>();

  const track = (work: Promise<void>, sessionId: string): void => {
    const tracked = work.catch((err: unknown) => log.error({ err: describe(err), sessionId }, "push notification failed"));
    inflight.add(tracked);
    void tracked.finally(() => inflight.delete(tracked));
  };

  const deliver = async (sub: PushSubscriptionRecord, body: string): Promise<Delivery> => {
    if (!vapid) return "failed";
    const origin = originOf(sub.endpoint);
    try {
      await webpush.sendNotification({ endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } }, body, {
        vapidDetails: { subject: vapid.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
        timeout: config.pushTimeoutMs,
        TTL: PUSH_TTL_SECONDS,
        ...(agent ? { agent } : {}),
      });
      return "sent";
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 410) {
        // The push service says the subscription is gone for good (RFC 8030 7.3): forget it.
        try {
          await state.push.remove(sub.userId, sub.endpoint);
          log.info({ userId: sub.userId, origin, status }, "push subscription expired; removed");
        } catch (removeErr) {
          log.warn({ userId: sub.userId, origin, status, err: describe(removeErr) }, "push subscription expired but could not be removed");
        }
        return "gone";
      }
      log.warn({ userId: sub.userId, origin, ...(status !== undefined ? { status } : { err: describe(err) }) }, "push delivery failed");
      return "failed";
    }
  };

  const notify = async (session: PushSessionInfo, payload: PushPayload): Promise<void> => {
    const viewers = await viewerCount(session.sessionId);
    if (viewers === null) {
      log.warn({ sessionId: session.sessionId, type: payload.type }, "push skipped: viewer presence unknown");
      return;
    }
    log.debug({ sessionId: session.sessionId, viewers }, "push presence");
    if (viewers !== 0) return;
    const subs = (await state.push.list(session.userId)).filter((s) => wantsType(s.enabledEvents, payload.type));
    if (subs.length === 0) return;
    const body = JSON.stringify(payload);
    const results = await Promise.all(subs.map((s) => deliver(s, body)));
    log.debug(
      { sessionId: session.sessionId, userId: session.userId, type: payload.type, sent: results.filter((r) => r === "sent").length, of: subs.length },
      "push notification sent",
    );
  };

  return {
    enabled: vapid !== null,
    onSessionEvent(session, event) {
      if (!vapid) return;
      try {
        const payload = notificationFor(event, sessionLabel(session.sessionId, session.sessionName), session.sessionId);
        if (payload) track(notify(session, payload), session.sessionId);
      } catch (err) {
        log.error({ err: describe(err), sessionId: session.sessionId }, "push notification failed");
      }
    },
    async settled() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}

/**
 * The VAPID keys must be what `web-push generate-vapid-keys` prints (base64url: a 65-byte public point and
 * its 32-byte private scalar) and the subject an https: or mailto: URL.
 */
export function checkVapid(vapid: { publicKey: string; privateKey: string; subject: string }): void {
  try {
    webpush.getVapidHeaders("https://push.invalid", vapid.subject, vapid.publicKey, vapid.privateKey, "aes128gcm");
  } catch (err) {
    throw new ConfigError(`Invalid VAPID configuration (PIZZAPI_VAPID_*): ${err instanceof Error ? err.message : String(err)}`);
  }
  let derived: string;
  try {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.from(vapid.privateKey, "base64url"));
    derived = ecdh.getPublicKey().toString("base64url");
  } catch {
    throw new ConfigError("Invalid VAPID configuration (PIZZAPI_VAPID_*): the private key is not a P-256 key");
  }
  if (derived !== vapid.publicKey) {
    throw new ConfigError("Invalid VAPID configuration (PIZZAPI_VAPID_*): PIZZAPI_VAPID_PUBLIC_KEY is not the public key of PIZZAPI_VAPID_PRIVATE_KEY");
  }
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof webpush.WebPushError) return err.statusCode;
  return undefined;
}

/** An error reduced to its name, code and message: web-push errors also carry the endpoint URL and the response. */
function describe(err: unknown): { name?: string; code?: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, ...(typeof code === "string" ? { code } : {}), message: err.message };
  }
  return { message: String(err) };
}

function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return "(invalid endpoint)";
  }
}
