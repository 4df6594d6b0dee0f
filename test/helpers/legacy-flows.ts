import { LegacyClient } from "./legacy.js";

/**
 * Small flows of the deployed v0.1.x clients over the legacy bridge, as the legacy clients perform them
 * (docs/legacy-protocol.md sections 2 to 6): a CLI that registers and publishes, a runner that registers, and
 * the HTTP answer of a refused upgrade.
 */

export interface LegacyCli {
  client: LegacyClient;
  sessionId: string;
  token: string;
}

/** Opens `/ws/sessions` with `x-api-key` and registers as the CLI does; resolves with its `registered`. */
export async function legacyCli(url: string, apiKey: string, register: Record<string, unknown> = {}): Promise<LegacyCli> {
  const client = await LegacyClient.open(url, "/ws/sessions", { "x-api-key": apiKey });
  const before = client.typed("registered").length;
  client.send({ type: "register", cwd: "/home/alice/proj", collabMode: true, sessionName: null, ...register });
  const [registered] = (await client.next("registered", before + 1)).slice(before);
  if (!registered || typeof registered.sessionId !== "string" || typeof registered.token !== "string") {
    throw new Error(`unexpected registered frame: ${JSON.stringify(registered)}`);
  }
  return { client, sessionId: registered.sessionId, token: registered.token };
}

/** Sends `events` as legacy `event` frames with client seqs from `fromSeq`, back to back (no waiting). */
export function sendLegacyEvents(cli: LegacyCli, events: unknown[], fromSeq = 1): void {
  events.forEach((event, i) => cli.client.send({ type: "event", sessionId: cli.sessionId, token: cli.token, event, seq: fromSeq + i }));
}

/** Waits for the cumulative `event_ack` that covers client seq `seq`. */
export async function ackedUpTo(cli: LegacyCli, seq: number, timeoutMs = 5_000): Promise<void> {
  await cli.client.until(() => cli.client.typed("event_ack").some((a) => typeof a.seq === "number" && a.seq >= seq), `event_ack ${seq}`, timeoutMs);
}

/** Opens `/ws/runner` with `x-api-key` and sends `register_runner`; resolves with the id the relay gave. */
export async function legacyRunner(url: string, apiKey: string, register: Record<string, unknown>): Promise<{ client: LegacyClient; runnerId: string }> {
  const client = await LegacyClient.open(url, "/ws/runner", { "x-api-key": apiKey });
  client.send({ type: "register_runner", ...register });
  const [registered] = await client.next("runner_registered");
  if (!registered || typeof registered.runnerId !== "string") throw new Error(`unexpected runner_registered: ${JSON.stringify(registered)}`);
  return { client, runnerId: registered.runnerId };
}

/** The HTTP answer to a refused legacy upgrade (rejects if the WebSocket opens instead). */
export async function refusedUpgrade(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  try {
    const client = await LegacyClient.open(url, path, headers);
    client.close();
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    if (typeof status === "number") return { status, body: body ?? "" };
    throw err;
  }
  throw new Error(`${path}: the WebSocket opened, expected a refused upgrade`);
}

/** The `seq` of every `event` frame a legacy viewer received, in arrival order (-1: none). */
export function legacyEventSeqs(client: LegacyClient): number[] {
  return client.typed("event").map((f) => (typeof f.seq === "number" ? f.seq : -1));
}

export { sleep } from "./wait.js";
