import type { IntervalHistogram } from "node:perf_hooks";

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
export function latencyStats(values: ArrayLike<number>): LatencyStats {
  if (values.length === 0) return { count: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, mean: sum / sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

export const ELD_RESOLUTION_MS = 10;

export interface LagStats {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** `monitorEventLoopDelay` records whole timer intervals: the lag is what exceeds the resolution. */
export function lagStats(h: IntervalHistogram): LagStats {
  const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS) : NaN);
  return { mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

export const fmt = (v: number | null | undefined, digits = 1): string => (v == null || !Number.isFinite(v) ? "–" : v.toFixed(digits));
export const pct = (v: number | null | undefined): string => (v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(0)}%`);

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  ")).join("\n");
}

/** The same rows as a Markdown table (for bench/README.md). */
export function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return "";
  const line = (r: string[]): string => `| ${r.join(" | ")} |`;
  return [line(head), line(head.map((_, c) => (c === 0 ? "---" : "---:"))), ...body.map(line)].join("\n");
}
