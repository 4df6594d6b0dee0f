import type { Command } from "commander";
import { isGeneration } from "../protocol/index.js";
import { MODES, RETIRABLE } from "./modes.js";
import { ADMIN_BASE } from "./routes.js";
import { formatDuration, parseDuration, type GenerationStatus, type MigrationStatus } from "./status.js";

/** Exit codes of `pizzapi-relay migration status`, for release pipelines. */
export const EXIT_SAFE = 0;
export const EXIT_NOT_SAFE = 1;
export const EXIT_ERROR = 2;

interface Target {
  url?: string;
  apiKey?: string;
}

/**
 * `pizzapi-relay migration status|mode`: the operator's and the release pipeline's view, over the admin
 * REST API of any node (so it works alike for an embedded relay and a cluster).
 */
export function registerMigrationCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const migration = program.command("migration").description("rollout of client generations: modes, census, go/no-go verdict (admin key)");
  const target = (cmd: Command): Command =>
    cmd
      .option("--url <relay url>", "a relay node (default: PIZZAPI_RELAY_URL, else http://127.0.0.1:$PORT)")
      .option("--api-key <key>", "an API key with the admin scope (default: PIZZAPI_ADMIN_KEY)");

  target(
    migration
      .command("status")
      .description(`modes, live connections and who still uses each generation; exit ${EXIT_SAFE} when the generation is safe to turn off, ${EXIT_NOT_SAFE} when not`)
      .option("--generation <generation>", `the generation the verdict and exit code are about (${RETIRABLE.join(", ")})`, "legacy")
      .option("--window <duration>", "how long nothing may have been seen (7d, 12h, 30m, 90s, ms; default: PIZZAPI_MIGRATION_WINDOW_MS)")
      .option("--json", "print the whole status as JSON"),
  ).action(async (opts: Target & { generation: string; window?: string; json?: boolean }): Promise<void> => {
    if (!isGeneration(opts.generation) || opts.generation === "current") return void fail(`--generation must be one of ${RETIRABLE.join(", ")}`);
    if (opts.window !== undefined && parseDuration(opts.window) === null) return void fail("--window must be a duration: 7d, 12h, 30m, 90s or milliseconds");
    const query = opts.window !== undefined ? `?window=${encodeURIComponent(opts.window)}` : "";
    const status = await call<MigrationStatus>(env, opts, "GET", `/status${query}`);
    if (!status) return;
    const mine = status.generations.find((g) => g.generation === opts.generation);
    if (!mine) return void fail(`the relay reported no generation ${opts.generation}`);
    process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : render(status, mine));
    process.exitCode = mine.verdict.safeToTurnOff ? EXIT_SAFE : EXIT_NOT_SAFE;
  });

  target(
    migration
      .command("mode <generation> <mode>")
      .description(`set a generation's mode cluster-wide (${MODES.join(", ")}), or "default" to fall back to the nodes' boot default`)
      .option("--sunset <date>", "the end of service announced in Sunset headers (ISO date)"),
  ).action(async (generation: string, mode: string, opts: Target & { sunset?: string }): Promise<void> => {
    if (!isGeneration(generation) || !RETIRABLE.includes(generation)) return void fail(`generation must be one of ${RETIRABLE.join(", ")}`);
    if (mode !== "default" && !(MODES as readonly string[]).includes(mode)) return void fail(`mode must be one of ${MODES.join(", ")} or default`);
    const reply =
      mode === "default"
        ? await call<{ change: unknown }>(env, opts, "DELETE", `/modes/${generation}`)
        : await call<{ change: unknown }>(env, opts, "PUT", `/modes/${generation}`, { mode, ...(opts.sunset ? { sunset: opts.sunset } : {}) });
    if (reply) process.stdout.write(`${JSON.stringify(reply.change)}\n`);
  });
}

async function call<T>(env: NodeJS.ProcessEnv, opts: Target, method: string, path: string, body?: unknown): Promise<T | null> {
  const url = (opts.url ?? env.PIZZAPI_RELAY_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/+$/, "");
  const apiKey = opts.apiKey ?? env.PIZZAPI_ADMIN_KEY;
  if (!apiKey) return fail("an admin API key is needed: --api-key or PIZZAPI_ADMIN_KEY (keys create --admin mints one)");
  let res: Response;
  try {
    res = await fetch(`${url}${ADMIN_BASE}${path}`, {
      method,
      headers: { "x-api-key": apiKey, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return fail(`cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const payload = (await res.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!res.ok || payload === null) return fail(`${url} answered ${res.status}: ${payload?.error ?? "no JSON body"}`);
  return payload;
}

function fail(message: string): null {
  process.stderr.write(`pizzapi-relay migration: ${message}\n`);
  process.exitCode = EXIT_ERROR;
  return null;
}

const when = (ms: number | null): string => (ms === null ? "never" : new Date(ms).toISOString());

/** The status as an operator reads it in a terminal. */
function render(status: MigrationStatus, focus: GenerationStatus): string {
  const lines: string[] = [];
  lines.push(`relay status from node ${status.node} at ${when(status.at)}; ${status.nodes.length} live node(s); window ${formatDuration(status.windowMs)}`);
  for (const g of status.generations) {
    const modeAt = g.mode.since !== null ? ` since ${when(g.mode.since)}` : "";
    const by = g.mode.changedBy ? ` by ${g.mode.changedBy}` : "";
    const sunset = g.mode.sunset !== null ? `, sunset ${when(g.mode.sunset)}` : "";
    const applied = `${g.applied.nodes.filter((n) => n.mode === g.mode.mode).length}/${g.applied.nodes.length} nodes apply it`;
    lines.push("");
    lines.push(`${g.generation}: mode ${g.mode.mode} (${g.mode.source}${modeAt}${by}${sunset}); ${applied}`);
    const kinds = Object.entries(g.live.byKind).map(([k, n]) => `${k} ${n}`);
    const perNode = Object.entries(g.live.byNode).map(([n, c]) => `${n} ${c}`);
    lines.push(`  live: ${g.live.total}${kinds.length ? ` (${kinds.join(", ")}; nodes: ${perNode.join(", ")})` : ""}; last seen ${when(g.lastSeen)}`);
    for (const s of g.seen.subjects) {
      lines.push(`  - ${s.kind} ${s.id}: ${s.clientKinds.join(", ")}; versions ${s.clientVersions.join(", ") || "-"}; last seen ${when(s.lastSeen)}`);
    }
    if (g.seen.total > g.seen.subjects.length) lines.push(`  … and ${g.seen.total - g.seen.subjects.length} more`);
  }
  lines.push("");
  lines.push(
    focus.verdict.safeToTurnOff
      ? `verdict: ${focus.generation} is SAFE to turn off`
      : `verdict: ${focus.generation} is NOT safe to turn off: ${focus.verdict.reasons.join("; ")}`,
  );
  return `${lines.join("\n")}\n`;
}

