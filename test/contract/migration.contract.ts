import { describe, expect, it } from "vitest";
import type { Generation } from "../../protocol/index.js";
import type { CensusStore, NodeReport, Sighting } from "../../migration/census/types.js";
import { MAX_VERSIONS_PER_SUBJECT } from "../../migration/census/types.js";
import type { ModeStore } from "../../migration/mode-store.js";
import { effectiveModes } from "../../migration/modes.js";

/**
 * One contract for the migration plane's stores, run against memory and a real Redis: what the census
 * and the mode settings must do whichever backs them.
 */
export interface MigrationSubject {
  census: CensusStore;
  modes: ModeStore;
  /** Moves the store's clock (memory) or waits (Redis) so that `ms` pass. */
  advance(ms: number): Promise<void>;
  now(): number;
}

const MINUTE = 60_000;

function report(nodeId: string, at: number, live: Array<[Generation, number]>): NodeReport {
  return {
    nodeId,
    at,
    startedAt: at - 1_000,
    modes: effectiveModesAsReport(),
    live: live.map(([generation, count]) => ({ namespace: "/relay", generation, transport: generation === "legacy" ? "legacy-ws" : "websocket", count })),
    deprecated: {},
    liveSubjects: [],
  };
}

function effectiveModesAsReport(): NodeReport["modes"] {
  const modes = effectiveModes({}, "on");
  return Object.fromEntries(Object.entries(modes).map(([g, s]) => [g, { mode: s.mode, source: s.source, appliedAt: null }])) as NodeReport["modes"];
}

const sighting = (over: Partial<Sighting>): Sighting => ({ kind: "user", id: "alice", generation: "legacy", clientKind: "cli", clientVersion: null, at: Date.now(), ...over });

export function describeMigrationContract(name: string, make: () => Promise<MigrationSubject>): void {
  describe(`migration stores contract: ${name}`, () => {
    it("keeps each node's report until it expires: a dead node's counts vanish", async () => {
      const s = await make();
      const now = s.now();
      await s.census.report(report("a", now, [["legacy", 2]]), 400, 60 * MINUTE);
      await s.census.report(report("b", now, [["current", 3]]), 5_000, 60 * MINUTE);
      expect((await s.census.nodes()).map((n) => [n.nodeId, n.live.map((l) => l.count)])).toEqual([
        ["a", [2]],
        ["b", [3]],
      ]);
      await s.advance(600);
      expect((await s.census.nodes()).map((n) => n.nodeId)).toEqual(["b"]);
    });

    it("sums live counts per generation per minute over the nodes; a node's later report in a minute replaces its earlier one", async () => {
      const s = await make();
      const minute = Math.floor(s.now() / MINUTE);
      await s.census.report(report("a", minute * MINUTE + 1_000, [["legacy", 5]]), 10_000, 60 * MINUTE);
      await s.census.report(report("a", minute * MINUTE + 2_000, [["legacy", 2], ["socket-v1", 1]]), 10_000, 60 * MINUTE);
      await s.census.report(report("b", minute * MINUTE + 2_000, [["legacy", 4]]), 10_000, 60 * MINUTE);
      await s.census.report(report("a", (minute - 3) * MINUTE, [["current", 7]]), 10_000, 60 * MINUTE);
      const history = await s.census.history(minute - 5, minute);
      expect(history.map((h) => h.minute)).toEqual([minute - 3, minute]);
      expect(history[0]?.counts.current).toBe(7);
      expect(history[1]?.counts).toMatchObject({ legacy: 6, "socket-v1": 1 });
      expect(await s.census.history(minute + 1, minute + 2)).toEqual([]);
    });

    it("remembers who was seen on a generation: first and last seen, client kinds, the latest client versions", async () => {
      const s = await make();
      const t = s.now();
      await s.census.record(
        [
          sighting({ id: "alice", generation: "socket-v1", clientKind: "cli", clientVersion: "0.5.1", at: t - 3_000 }),
          sighting({ id: "alice", generation: "socket-v1", clientKind: "cli", clientVersion: "0.5.2", at: t - 1_000 }),
          sighting({ kind: "runner", id: "r-1", generation: "socket-v1", clientKind: "runner", clientVersion: "0.5.0", at: t - 2_000 }),
          sighting({ id: "bob", generation: "legacy", clientKind: "viewer", at: t }),
        ],
        60 * MINUTE,
      );
      const v1 = await s.census.subjects("socket-v1", 0, 10);
      expect(v1.total).toBe(2);
      expect(v1.subjects.map((x) => [x.kind, x.id])).toEqual([
        ["user", "alice"],
        ["runner", "r-1"],
      ]);
      expect(v1.subjects[0]).toMatchObject({ firstSeen: t - 3_000, lastSeen: t - 1_000, clientKinds: ["cli"], clientVersions: ["0.5.2", "0.5.1"] });
      expect((await s.census.subjects("legacy", 0, 10)).subjects).toEqual([
        { kind: "user", id: "bob", generation: "legacy", firstSeen: t, lastSeen: t, clientKinds: ["viewer"], clientVersions: [] },
      ]);
      expect(await s.census.lastSeen("socket-v1")).toBe(t - 1_000);
      expect(await s.census.subject("socket-v1", "runner", "r-1")).toMatchObject({ kind: "runner", id: "r-1", lastSeen: t - 2_000, clientVersions: ["0.5.0"] });
      expect(await s.census.subject("socket-v1", "user", "bob")).toBeNull();
      expect(await s.census.lastSeen("socket-unversioned")).toBeNull();
      // `since` bounds the list and the total; `limit` only the list.
      expect((await s.census.subjects("socket-v1", t - 1_500, 10)).subjects.map((x) => x.id)).toEqual(["alice"]);
      const limited = await s.census.subjects("socket-v1", 0, 1);
      expect([limited.total, limited.subjects.length]).toEqual([2, 1]);
    });

    it("keeps a subject's kinds, and bounds its remembered versions to the most recent ones", async () => {
      const s = await make();
      const t = s.now();
      const many = Array.from({ length: MAX_VERSIONS_PER_SUBJECT + 4 }, (_, i) => sighting({ clientVersion: `0.1.${i}`, clientKind: i % 2 ? "cli" : "hub", at: t - 10_000 + i }));
      await s.census.record(many, 60 * MINUTE);
      const [subject] = (await s.census.subjects("legacy", 0, 10)).subjects;
      expect(subject?.clientVersions).toEqual(Array.from({ length: MAX_VERSIONS_PER_SUBJECT }, (_, i) => `0.1.${MAX_VERSIONS_PER_SUBJECT + 3 - i}`));
      expect(subject?.clientKinds).toEqual(["cli", "hub"]);
      // A late, older sighting does not move lastSeen back.
      await s.census.record([sighting({ at: t - 60_000 })], 60 * MINUTE);
      expect((await s.census.subjects("legacy", 0, 10)).subjects[0]?.lastSeen).toBe(t - 10_000 + MAX_VERSIONS_PER_SUBJECT + 3);
    });

    it("forgets subjects past the retention period", async () => {
      const s = await make();
      await s.census.record([sighting({ id: "old", at: s.now() })], 500);
      expect((await s.census.subjects("legacy", 0, 10)).total).toBe(1);
      await s.advance(700);
      await s.census.record([sighting({ id: "new", at: s.now() })], 500);
      expect((await s.census.subjects("legacy", 0, 10)).subjects.map((x) => x.id)).toEqual(["new"]);
    });

    it("stores runtime modes, clears them, and records every change with who, when, from and to", async () => {
      const s = await make();
      expect(await s.modes.read()).toEqual({});
      const first = await s.modes.write("legacy", { mode: "warn", sunset: 1_800_000_000_000, at: 1_000, by: "ops (key k1)" }, "ops (key k1)", 1_000);
      expect(first).toEqual({ generation: "legacy", from: null, to: "warn", at: 1_000, by: "ops (key k1)" });
      const second = await s.modes.write("legacy", { mode: "off", sunset: null, at: 2_000, by: "ops" }, "ops", 2_000);
      expect(second).toMatchObject({ from: "warn", to: "off" });
      await s.modes.write("socket-v1", { mode: "drain", sunset: null, at: 3_000, by: "ops" }, "ops", 3_000);
      expect(await s.modes.read()).toEqual({
        legacy: { mode: "off", sunset: null, at: 2_000, by: "ops" },
        "socket-v1": { mode: "drain", sunset: null, at: 3_000, by: "ops" },
      });
      const cleared = await s.modes.write("legacy", null, "ops", 4_000);
      expect(cleared).toMatchObject({ from: "off", to: null });
      expect(Object.keys(await s.modes.read())).toEqual(["socket-v1"]);
      expect((await s.modes.changes(10)).map((c) => [c.generation, c.from, c.to, c.at])).toEqual([
        ["legacy", "off", null, 4_000],
        ["socket-v1", null, "drain", 3_000],
        ["legacy", "warn", "off", 2_000],
        ["legacy", null, "warn", 1_000],
      ]);
      expect(await s.modes.changes(1)).toHaveLength(1);
    });
  });
}
