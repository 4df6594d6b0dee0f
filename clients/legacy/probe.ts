import { LegacyCliClient } from "./cli-client.js";

export interface LegacyCliCheck {
  url: string;
  apiKey: string;
  sessionId?: string | undefined;
  events: number;
  timeoutMs: number;
}

/**
 * `pizzapi-relay legacy-cli`: checks a deployment the way a deployed v0.1.x CLI sees it. Connects to
 * `/ws/sessions` with the legacy client, registers, publishes `events` events, waits for every
 * `event_ack`, ends the session, and prints one JSON line per step. Exit code 0 when everything was
 * acknowledged in time, 1 otherwise.
 */
export async function runLegacyCliCheck(check: LegacyCliCheck): Promise<number> {
  const out = (record: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(record)}\n`);
  const client = new LegacyCliClient({ relayUrl: check.url, apiKey: check.apiKey, sessionId: check.sessionId, cwd: process.cwd(), heartbeatMs: 10_000 });
  client.on("close", ({ code, reason }: { code: number; reason: string }) => out({ step: "close", code, reason }));
  client.on("error", (frame: Record<string, unknown>) => out({ step: "error", message: frame.message }));
  let refusal: { status: number; body: string } | null = null;
  client.on("refused", (r: { status: number; body: string }) => {
    if (!refusal) out({ step: "upgrade", ok: false, status: r.status, body: r.body });
    refusal = r;
  });
  const deadline = Date.now() + check.timeoutMs;
  const waitFor = async (done: () => boolean): Promise<boolean> => {
    while (!done()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  };
  client.start();
  try {
    if (!(await waitFor(() => client.registered !== null || refusal !== null)) || !client.registered) {
      out({ step: "register", ok: false, error: "no `registered` frame before the timeout" });
      return 1;
    }
    const reg = client.registered;
    out({ step: "register", ok: true, sessionId: reg?.sessionId, shareUrl: reg?.shareUrl, isEphemeral: reg?.isEphemeral, collabMode: reg?.collabMode });
    // session_active and the first heartbeat are seq 1 and 2; the check's events follow.
    for (let i = 0; i < check.events; i++) client.forward({ type: "message_update", check: i + 1 });
    const expected = check.events + 2;
    const acked = await waitFor(() => client.ackedSeq >= expected);
    out({ step: "events", ok: acked, sent: check.events, ackedSeq: client.ackedSeq, expectedSeq: expected });
    return acked ? 0 : 1;
  } finally {
    client.stop();
  }
}
