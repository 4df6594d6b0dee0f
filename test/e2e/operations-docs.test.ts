import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { Scrape } from "../helpers/metrics.js";

/**
 * docs/operations.md ships a Grafana dashboard and Prometheus alert rules: every metric they name must be
 * one the relay exports, or the dashboard shows nothing and the alerts never fire.
 */
const DOCS = resolve(import.meta.dirname, "../../docs");
const TOKEN = "operations-docs-test-token";

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}
interface Rules {
  groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
}

function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:pizzapi|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? "");
}

describe("the dashboard and the alert rules name only exported metrics", () => {
  let node: TestRelay;
  let exported: Set<string>;
  beforeAll(async () => {
    node = await startRelay({ PIZZAPI_METRICS_TOKEN: TOKEN });
    const text = await (await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const scrape = Scrape.parse(text);
    exported = new Set(scrape.families.flatMap((f) => (f.type === "HISTOGRAM" ? [f.name, `${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name])));
  });
  afterAll(async () => node?.stop());

  const dashboard = JSON.parse(readFileSync(`${DOCS}/grafana/pizzapi-relay.json`, "utf8")) as Dashboard;
  const rules = parseYaml(readFileSync(`${DOCS}/prometheus/pizzapi-alerts.yml`, "utf8")) as Rules;
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
    ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
  ];

  it("has queries to check (a parse that found nothing would pass vacuously)", () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    expect(rules.groups[0]?.rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["PizzapiLegacyShareNotFalling", "PizzapiHandshakeRefusalsSpiking", "PizzapiPublishLatencyHigh", "PizzapiRedisDown"]));
    expect(queries.every((q) => metricNames(q.expr).length > 0)).toBe(true);
  });

  it.each(queries.map((q) => [q.where, q.expr]))("%s: every metric is exported", (_where, expr) => {
    for (const name of metricNames(expr)) expect(exported.has(name), name).toBe(true);
  });
});
