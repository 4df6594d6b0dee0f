import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * The reference trace (test/fixtures/reference-trace.jsonl, a copy of shared/fixtures): every frame the
 * legacy server exchanged with scripted clients. Golden tests send the recorded client frames and compare
 * what the relay answers with the recorded server frames, by shape: ids, tokens, timestamps and
 * server-timed durations are compared by form, not value.
 */
export interface TraceRecord {
  index: number;
  conn: number;
  path: string;
  dir: "open" | "client→server" | "server→client" | "close";
  frame?: Record<string, unknown>;
  code?: number;
  reason?: string;
  defect?: string;
}

const FILE = resolve(import.meta.dirname, "../fixtures/reference-trace.jsonl");

export const TRACE: TraceRecord[] = readFileSync(FILE, "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line, index) => ({ index, ...(JSON.parse(line) as Omit<TraceRecord, "index">) }));

/** Server frames recorded for one connection, in order (optionally without the records marked defects). */
export function serverFrames(conn: number, options: { withDefects?: boolean } = {}): Array<Record<string, unknown>> {
  return TRACE.filter((r) => r.conn === conn && r.dir === "server→client" && (options.withDefects || !r.defect)).map((r) => r.frame ?? {});
}

/** Client frames recorded for one connection, in order. */
export function clientFrames(conn: number): Array<Record<string, unknown>> {
  return TRACE.filter((r) => r.conn === conn && r.dir === "client→server").map((r) => r.frame ?? {});
}

export function closeOf(conn: number): { code: number; reason: string } | undefined {
  const r = TRACE.find((x) => x.conn === conn && x.dir === "close" && !x.defect);
  return r ? { code: r.code ?? 0, reason: r.reason ?? "" } : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const UUID_IN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The frame with every run-specific value replaced by its kind. */
export function shape(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (key === "userId") return "<userId>";
    if (key === "requestId") return "<requestId>";
    if (UUID.test(value)) return "<uuid>";
    if (HEX64.test(value)) return "<hex64>";
    if (ISO.test(value)) return "<iso>";
    return value.replace(UUID_IN, "<uuid>");
  }
  if (typeof value === "number" && key === "durationSeconds") return value > 0 ? "<seconds>" : value;
  if (Array.isArray(value)) return value.map((v) => shape(v));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v, k)]));
  }
  return value;
}
