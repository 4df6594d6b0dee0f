import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashSecret, newId, randomHex } from "../../server/auth/secrets.js";
import type {
  ClaimInput,
  PublishFields,
  PublishInput,
  PushSubscriptionRecord,
  RunnerRegistration,
  SessionRecord,
  SharedState,
  TerminalRecord,
} from "../../server/state/types.js";

export interface ContractSubject {
  state: SharedState;
  teardown(): Promise<void>;
  /** Everything the backend stored (keys and values) as one text, to check what is never stored. */
  dump?(): Promise<string>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const shareUrlFor = (id: string): string => `https://relay.test/session/${id}`;

function claimInput(overrides: Partial<ClaimInput> = {}): ClaimInput {
  return {
    userId: "u1",
    userName: "Alice",
    sessionId: `s-${newId()}`,
    cwd: "/work/a",
    sessionName: null,
    isEphemeral: false,
    collabMode: false,
    now: Date.now(),
    expiresAt: null,
    ttlMs: 60_000,
    shareUrlFor,
    newId,
    ...overrides,
  };
}

function publishInput(record: Pick<SessionRecord, "sessionId" | "generation">, overrides: Partial<PublishFields> = {}): PublishInput {
  return {
    sessionId: record.sessionId,
    generation: record.generation,
    eventJson: '{"type":"message_update"}',
    kind: "other",
    now: Date.now(),
    expiresAt: null,
    ttlMs: 60_000,
    bufferSize: 100,
    ...overrides,
  };
}

/** The contract of SharedState: one suite, run against every implementation. */
export function describeStateContract(name: string, setup: () => Promise<ContractSubject>): void {
  describe(`SharedState contract: ${name}`, () => {
    let subject: ContractSubject;
    let state: SharedState;

    beforeEach(async () => {
      subject = await setup();
      state = subject.state;
    });

    afterEach(async () => {
      await subject.teardown();
    });

    it("answers ping", async () => {
      await expect(state.ping()).resolves.toBeUndefined();
    });

    describe("API keys", () => {
      it("keeps the admin scope of a key, and only of that key", async () => {
        const admin = await state.keys.create({ userId: "ops", userName: "Ops", admin: true });
        const plain = await state.keys.create({ userId: "ops", userName: "Ops", admin: false });
        expect(admin.meta.admin).toBe(true);
        expect(plain.meta.admin).toBe(false);
        expect(await state.keys.verify(admin.key)).toMatchObject({ id: admin.meta.id, admin: true });
        expect(await state.keys.verify(plain.key)).toMatchObject({ id: plain.meta.id, admin: false });
        expect((await state.keys.list("ops")).map((k) => [k.id, k.admin]).sort()).toEqual([[admin.meta.id, true], [plain.meta.id, false]].sort());
      });

      it("creates, verifies, lists and revokes keys", async () => {
        const a = await state.keys.create({ userId: "u1", userName: "Alice", name: "laptop" });
        const b = await state.keys.create({ userId: "u1", userName: "Alice" });
        const c = await state.keys.create({ userId: "u2", userName: "Bob", name: null });
        expect(a.key).toMatch(/^[0-9a-f]{64}$/);
        expect(new Set([a.key, b.key, c.key]).size).toBe(3);
        expect(a.meta).toEqual({ id: a.meta.id, userId: "u1", userName: "Alice", name: "laptop", createdAt: a.meta.createdAt, admin: false });
        expect(new Date(a.meta.createdAt).toISOString()).toBe(a.meta.createdAt);
        expect(b.meta.name).toBeNull();

        expect(await state.keys.verify(a.key)).toEqual(a.meta);
        expect(await state.keys.verify(b.key)).toEqual(b.meta);
        expect(await state.keys.verify(c.key)).toEqual(c.meta);
        expect(await state.keys.verify(`${a.key}0`)).toBeNull();
        expect(await state.keys.verify(hashSecret(a.key))).toBeNull();

        const byId = (x: { id: string }, y: { id: string }): number => x.id.localeCompare(y.id);
        expect((await state.keys.list()).sort(byId)).toEqual([a.meta, b.meta, c.meta].sort(byId));
        expect((await state.keys.list("u1")).sort(byId)).toEqual([a.meta, b.meta].sort(byId));
        expect(await state.keys.list("u2")).toEqual([c.meta]);
        expect(await state.keys.list("nobody")).toEqual([]);

        expect(await state.keys.exists(a.meta.id)).toBe(true);
        expect(await state.keys.revoke(a.meta.id)).toBe(true);
        expect(await state.keys.exists(a.meta.id)).toBe(false);
        expect(await state.keys.exists(b.meta.id)).toBe(true);
        expect(await state.keys.exists("no-such-id")).toBe(false);
        expect(await state.keys.existing([a.meta.id, b.meta.id, "no-such-id", c.meta.id])).toEqual(new Set([b.meta.id, c.meta.id]));
        expect(await state.keys.existing([])).toEqual(new Set());
        expect(await state.keys.revoke(a.meta.id)).toBe(false);
        expect(await state.keys.revoke("no-such-id")).toBe(false);
        expect(await state.keys.verify(a.key)).toBeNull();
        expect(await state.keys.verify(b.key)).toEqual(b.meta);
        expect((await state.keys.list()).sort(byId)).toEqual([b.meta, c.meta].sort(byId));
      });

      it("never stores the plain key, only its SHA-256", async (ctx) => {
        if (!subject.dump) ctx.skip();
        const { key } = await state.keys.create({ userId: "u1", userName: "Alice", name: "ci" });
        const stored = (await subject.dump?.()) ?? "";
        expect(stored).toContain(hashSecret(key));
        expect(stored).not.toContain(key);
      });
    });

    describe("logins", () => {
      it("creates, verifies and deletes logins", async () => {
        const token = await state.logins.create({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" }, 60_000);
        const other = await state.logins.create({ userId: "u2", userName: "Bob", admin: true, keyId: null }, 60_000);
        expect(token).toMatch(/^[0-9a-f]{64}$/);
        expect(await state.logins.verify(token)).toEqual({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" });
        expect(await state.logins.verify(other)).toEqual({ userId: "u2", userName: "Bob", admin: true, keyId: null });
        expect(await state.logins.verify(`${token}x`)).toBeNull();
        await state.logins.delete(token);
        expect(await state.logins.verify(token)).toBeNull();
        expect(await state.logins.verify(other)).toEqual({ userId: "u2", userName: "Bob", admin: true, keyId: null });
        await expect(state.logins.delete("never-issued")).resolves.toBeUndefined();
      });

      it("expires logins after their ttl", async () => {
        const short = await state.logins.create({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" }, 50);
        const long = await state.logins.create({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" }, 60_000);
        expect(await state.logins.verify(short)).toEqual({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" });
        await sleep(120);
        expect(await state.logins.verify(short)).toBeNull();
        expect(await state.logins.verify(long)).toEqual({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" });
      });

      it("never stores the plain token", async (ctx) => {
        if (!subject.dump) ctx.skip();
        const token = await state.logins.create({ userId: "u1", userName: "Alice", admin: false, keyId: "k1" }, 60_000);
        expect((await subject.dump?.()) ?? "").not.toContain(token);
      });
    });

    describe("sessions: claim", () => {
      it("creates an unknown id at generation 1, seq 0", async () => {
        const input = claimInput({ sessionName: "fix bug", isEphemeral: true, collabMode: true, expiresAt: Date.now() + 10_000 });
        const result = await state.sessions.claim(input);
        const expected: SessionRecord = {
          sessionId: input.sessionId ?? "",
          userId: "u1",
          userName: "Alice",
          cwd: "/work/a",
          shareUrl: shareUrlFor(input.sessionId ?? ""),
          startedAt: new Date(input.now).toISOString(),
          sessionName: "fix bug",
          isEphemeral: true,
          collabMode: true,
          isActive: false,
          lastHeartbeatAt: null,
          model: null,
          runnerId: null,
          runnerName: null,
          generation: 1,
          seq: 0,
          expiresAt: input.expiresAt,
          live: true,
          endedAt: null,
        };
        expect(result).toEqual({ record: expected, outcome: "created" });
        expect(result.previousGeneration).toBeUndefined();
        expect(await state.sessions.get(expected.sessionId)).toEqual(expected);
        expect(await state.sessions.get("no-such-session")).toBeNull();
        expect(await state.sessions.view("no-such-session", 0)).toBeNull();

        const view = await state.sessions.view(expected.sessionId);
        expect(view).toEqual({ record: expected, snapshot: { stateJson: undefined, hasState: false, heartbeatJson: undefined } });
        expect(view && "log" in view).toBe(false);
      });

      it("makes an id when none is asked for", async () => {
        const ids: string[] = [];
        const make = (): string => {
          const id = `gen-${newId()}`;
          ids.push(id);
          return id;
        };
        const blank = await state.sessions.claim(claimInput({ sessionId: "", newId: make }));
        const absent = await state.sessions.claim(claimInput({ sessionId: undefined, newId: make }));
        expect(ids).toHaveLength(2);
        expect(blank.outcome).toBe("created");
        expect(blank.record.sessionId).toBe(ids[0]);
        expect(blank.record.shareUrl).toBe(shareUrlFor(ids[0] ?? ""));
        expect(absent.record.sessionId).toBe(ids[1]);
      });

      it("reconnects the same user's live id: next generation, seq, snapshot and status kept", async () => {
        const first = await state.sessions.claim(claimInput({ now: Date.now() - 5_000 }));
        const id = first.record.sessionId;
        const model = { provider: "anthropic", id: "claude", name: "Claude" };
        const lastHeartbeatAt = new Date().toISOString();
        await state.sessions.publish(publishInput(first.record, { kind: "state", eventJson: '{"type":"session_active"}', stateJson: '{"messages":[]}' }));
        await state.sessions.publish(
          publishInput(first.record, { kind: "heartbeat", eventJson: '{"type":"heartbeat"}', patch: { isActive: true, model, lastHeartbeatAt } }),
        );

        const expiresAt = Date.now() + 30_000;
        const again = await state.sessions.claim(
          claimInput({ sessionId: id, userName: "Alice B.", cwd: "/work/b", sessionName: "renamed", isEphemeral: true, collabMode: true, expiresAt }),
        );
        expect(again.outcome).toBe("reconnected");
        expect(again.previousGeneration).toBe(1);
        expect(again.record).toEqual({
          ...first.record,
          userName: "Alice B.",
          cwd: "/work/b",
          sessionName: "renamed",
          isEphemeral: true,
          collabMode: true,
          expiresAt,
          generation: 2,
          seq: 2,
          isActive: true,
          model,
          lastHeartbeatAt,
        });
        expect(again.record.startedAt).toBe(first.record.startedAt);

        const view = await state.sessions.view(id, 0);
        expect(view?.snapshot).toEqual({ stateJson: '{"messages":[]}', hasState: true, heartbeatJson: '{"type":"heartbeat"}' });
        expect(view?.log).toEqual({ complete: true, events: [expect.objectContaining({ seq: 1 }), expect.objectContaining({ seq: 2 })] });

        expect(await state.sessions.publish(publishInput(first.record))).toEqual({ ok: false, reason: "stale" });
        expect(await state.sessions.publish(publishInput(again.record))).toEqual({ ok: true, seq: 3 });

        const third = await state.sessions.claim(claimInput({ sessionId: id }));
        expect(third.outcome).toBe("reconnected");
        expect(third.previousGeneration).toBe(2);
        expect(third.record.generation).toBe(3);
        expect(third.record.seq).toBe(3);
        expect(third.record.isEphemeral).toBe(false);
        expect(third.record.expiresAt).toBeNull();
        expect(third.record.sessionName).toBeNull();
      });

      it("reassigns another user's id to a fresh one, skipping ids already in use", async () => {
        const owner = await state.sessions.claim(claimInput({ userId: "u1" }));
        const busy = await state.sessions.claim(claimInput({ userId: "u3", userName: "Carol" }));
        const fresh = `s-${newId()}`;
        const offered = [busy.record.sessionId, fresh];
        let calls = 0;
        const result = await state.sessions.claim(
          claimInput({
            userId: "u2",
            userName: "Bob",
            sessionId: owner.record.sessionId,
            newId: () => {
              const id = offered[calls++];
              if (id === undefined) throw new Error("too many ids asked");
              return id;
            },
          }),
        );
        expect(calls).toBe(2);
        expect(result.outcome).toBe("reassigned");
        expect(result.previousGeneration).toBeUndefined();
        expect(result.record).toMatchObject({
          sessionId: fresh,
          shareUrl: shareUrlFor(fresh),
          userId: "u2",
          userName: "Bob",
          generation: 1,
          seq: 0,
          live: true,
        });
        expect(await state.sessions.get(owner.record.sessionId)).toEqual(owner.record);
        expect(await state.sessions.get(busy.record.sessionId)).toEqual(busy.record);
        expect(await state.sessions.get(fresh)).toEqual(result.record);
      });

      it("re-creates the same user's ended id with seq and log continuing", async () => {
        const first = await state.sessions.claim(claimInput({ now: Date.now() - 5_000 }));
        const id = first.record.sessionId;
        await state.sessions.publish(publishInput(first.record, { kind: "state", stateJson: '{"a":1}' }));
        await state.sessions.publish(publishInput(first.record, { kind: "heartbeat", patch: { isActive: true, model: { provider: "p", id: "m" } } }));
        await state.sessions.publish(publishInput(first.record));
        const ended = await state.sessions.end(id, 1, Date.now(), 60_000);
        expect(ended?.live).toBe(false);

        const now = Date.now();
        const again = await state.sessions.claim(claimInput({ sessionId: id, now, cwd: "/work/c" }));
        expect(again.outcome).toBe("created");
        expect(again.previousGeneration).toBeUndefined();
        expect(again.record).toEqual({
          ...first.record,
          cwd: "/work/c",
          startedAt: new Date(now).toISOString(),
          generation: 2,
          seq: 3,
          isActive: false,
          model: null,
          live: true,
          endedAt: null,
        });
        const view = await state.sessions.view(id, 1);
        expect(view?.snapshot).toEqual({ stateJson: undefined, hasState: false, heartbeatJson: undefined });
        expect(view?.log).toEqual({ complete: true, events: [expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 3 })] });
        expect(await state.sessions.listByUser("u1")).toEqual([again.record]);
        expect(await state.sessions.publish(publishInput(first.record))).toEqual({ ok: false, reason: "stale" });
        expect(await state.sessions.publish(publishInput(again.record))).toEqual({ ok: true, seq: 4 });
      });

      it("reassigns an ended id claimed by another user", async () => {
        const first = await state.sessions.claim(claimInput());
        await state.sessions.end(first.record.sessionId, 1, Date.now(), 60_000);
        const other = await state.sessions.claim(claimInput({ userId: "u2", sessionId: first.record.sessionId }));
        expect(other.outcome).toBe("reassigned");
        expect(other.record.sessionId).not.toBe(first.record.sessionId);
        expect((await state.sessions.get(first.record.sessionId))?.userId).toBe("u1");
      });
    });

    describe("sessions: publish", () => {
      it("assigns seq + 1 in call order to publishes fired without awaiting", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const t0 = Date.now();
        const pending = Array.from({ length: 200 }, (_, i) =>
          state.sessions.publish(publishInput(record, { eventJson: `{"i":${i}}`, now: t0 + i, bufferSize: 500 })),
        );
        const results = await Promise.all(pending);
        expect(results).toEqual(results.map((_, i) => ({ ok: true, seq: i + 1 })));
        expect((await state.sessions.get(record.sessionId))?.seq).toBe(200);
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.log).toEqual({
          complete: true,
          events: results.map((_, i) => ({ seq: i + 1, ts: t0 + i, eventJson: `{"i":${i}}` })),
        });
      });

      it("drops a resent event of the same stream (seq not above the last stored) without appending", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const send = (r: Pick<SessionRecord, "sessionId" | "generation">, streamId: string, seq: number) =>
          state.sessions.publish(publishInput(r, { eventJson: `{"c":${seq}}`, dedupe: { streamId, seq } }));
        expect(await send(record, "s1", 1)).toEqual({ ok: true, seq: 1 });
        expect(await send(record, "s1", 2)).toEqual({ ok: true, seq: 2 });
        expect(await send(record, "s1", 2)).toEqual({ ok: true, duplicate: true });
        expect(await send(record, "s1", 1)).toEqual({ ok: true, duplicate: true });
        // A gap in the client's counter is fine (it only has to increase).
        expect(await send(record, "s1", 5)).toEqual({ ok: true, seq: 3 });
        // A re-register (next generation) keeps the stream position: resends after a reconnect are dropped.
        const again = await state.sessions.claim(claimInput({ sessionId: record.sessionId }));
        expect(again.outcome).toBe("reconnected");
        expect(await send(again.record, "s1", 5)).toEqual({ ok: true, duplicate: true });
        expect(await send(again.record, "s1", 6)).toEqual({ ok: true, seq: 4 });
        // Another stream (a restarted client) starts over.
        expect(await send(again.record, "s2", 1)).toEqual({ ok: true, seq: 5 });
        // Events without dedupe are never dropped.
        expect(await state.sessions.publish(publishInput(again.record))).toEqual({ ok: true, seq: 6 });
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.log).toEqual({ complete: true, events: [1, 2, 5, 6, 1].map((c, i) => expect.objectContaining({ seq: i + 1, eventJson: `{"c":${c}}` })).concat([expect.objectContaining({ seq: 6 })]) });
        expect((await state.sessions.get(record.sessionId))?.seq).toBe(6);
      });

      it("appends a runner's event only for a live session of its user linked to it, in the same step", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const owner = { userId: "u1", runnerId: "r1", ephemeral: { expiresAt: Date.now() + 5_000, ttlMs: 30_000 } };
        const asRunner = (o: typeof owner) => {
          const { generation: _generation, ...fields } = publishInput(record, { eventJson: '{"type":"runner"}' });
          return state.sessions.publish({ ...fields, owner: o });
        };
        // No runner linked yet, then another runner, another user.
        expect(await asRunner(owner)).toEqual({ ok: false, reason: "not_owner" });
        await state.sessions.linkRunner(record.sessionId, { runnerId: "r1", runnerName: null });
        expect(await asRunner({ ...owner, runnerId: "r2" })).toEqual({ ok: false, reason: "not_owner" });
        expect(await asRunner({ ...owner, userId: "u2" })).toEqual({ ok: false, reason: "not_owner" });
        expect((await state.sessions.get(record.sessionId))?.seq).toBe(0);
        expect(await asRunner(owner)).toEqual({ ok: true, seq: 1 });
        // Under whichever registration is live: the runner's event belongs to the session.
        const again = await state.sessions.claim(claimInput({ sessionId: record.sessionId }));
        await state.sessions.linkRunner(record.sessionId, { runnerId: "r1", runnerName: null });
        expect(await asRunner(owner)).toEqual({ ok: true, seq: 2 });
        // A durable session keeps the caller's expiry (none), not the ephemeral one.
        expect((await state.sessions.get(record.sessionId))?.expiresAt).toBeNull();
        await state.sessions.end(record.sessionId, again.record.generation, Date.now(), 60_000);
        expect(await asRunner(owner)).toEqual({ ok: false, reason: "not_live" });
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.log).toEqual({ complete: true, events: [1, 2].map((seq) => expect.objectContaining({ seq, eventJson: '{"type":"runner"}' })) });
      });

      it("gives a runner's event on an ephemeral session the ephemeral expiry", async () => {
        const { record } = await state.sessions.claim(claimInput({ isEphemeral: true, expiresAt: Date.now() + 1_000 }));
        await state.sessions.linkRunner(record.sessionId, { runnerId: "r1", runnerName: null });
        const expiresAt = Date.now() + 90_000;
        const { generation: _generation, ...fields } = publishInput(record, { expiresAt: null, ttlMs: 60_000 });
        expect(await state.sessions.publish({ ...fields, owner: { userId: "u1", runnerId: "r1", ephemeral: { expiresAt, ttlMs: 120_000 } } })).toEqual({ ok: true, seq: 1 });
        expect((await state.sessions.get(record.sessionId))?.expiresAt).toBe(expiresAt);
      });

      it("checks the generation before de-duplicating, and forgets the stream with the incarnation", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const dedupe = { streamId: "s1", seq: 3 };
        expect(await state.sessions.publish(publishInput(record, { dedupe }))).toEqual({ ok: true, seq: 1 });
        const again = await state.sessions.claim(claimInput({ sessionId: record.sessionId }));
        expect(await state.sessions.publish(publishInput(record, { dedupe }))).toEqual({ ok: false, reason: "stale" });
        await state.sessions.end(record.sessionId, again.record.generation, Date.now(), 60_000);
        expect(await state.sessions.publish(publishInput(again.record, { dedupe }))).toEqual({ ok: false, reason: "not_live" });
        const reborn = await state.sessions.claim(claimInput({ sessionId: record.sessionId }));
        expect(reborn.outcome).toBe("created");
        expect(await state.sessions.publish(publishInput(reborn.record, { dedupe }))).toEqual({ ok: true, seq: 2 });
      });

      it("refuses an event whose predecessor on the connection was never stored (`after` above the stream position)", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const send = (seq: number, after?: number) =>
          state.sessions.publish(publishInput(record, { eventJson: `{"c":${seq}}`, dedupe: { streamId: "s1", seq, ...(after !== undefined ? { after } : {}) } }));
        // The connection's first event of a stream nothing was stored for yet: its predecessor is unknown.
        expect(await send(1)).toEqual({ ok: true, seq: 1 });
        expect(await send(2, 1)).toEqual({ ok: true, seq: 2 });
        // 3 never reached the store (its append failed): 4, sent after it, must not be stored before it.
        expect(await send(4, 3)).toEqual({ ok: false, reason: "gap" });
        // After registering again the client resends from 3 (the first on its connection, so no `after`).
        expect(await send(3)).toEqual({ ok: true, seq: 3 });
        expect(await send(4, 3)).toEqual({ ok: true, seq: 4 });
        // A duplicate stays a duplicate, whatever came before it on the connection.
        expect(await send(4, 9)).toEqual({ ok: true, duplicate: true });
        // A gap in the counter itself is fine when the predecessor was stored (or was a duplicate).
        expect(await send(7, 4)).toEqual({ ok: true, seq: 5 });
        // A stream with no position yet: a predecessor was sent, so it failed.
        expect(await state.sessions.publish(publishInput(record, { dedupe: { streamId: "s2", seq: 2, after: 1 } }))).toEqual({ ok: false, reason: "gap" });
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.log).toEqual({ complete: true, events: [1, 2, 3, 4, 7].map((c, i) => expect.objectContaining({ seq: i + 1, eventJson: `{"c":${c}}` })) });
      });

      it("refuses a stale generation without appending", async () => {
        const first = await state.sessions.claim(claimInput());
        const again = await state.sessions.claim(claimInput({ sessionId: first.record.sessionId }));
        expect(await state.sessions.publish(publishInput(first.record))).toEqual({ ok: false, reason: "stale" });
        expect(await state.sessions.publish(publishInput({ sessionId: first.record.sessionId, generation: 3 }))).toEqual({ ok: false, reason: "stale" });
        expect((await state.sessions.get(first.record.sessionId))?.seq).toBe(0);
        expect(await state.sessions.publish(publishInput(again.record))).toEqual({ ok: true, seq: 1 });
      });

      it("refuses unknown and ended sessions as not_live", async () => {
        expect(await state.sessions.publish(publishInput({ sessionId: "no-such-session", generation: 1 }))).toEqual({ ok: false, reason: "not_live" });
        const { record } = await state.sessions.claim(claimInput());
        await state.sessions.publish(publishInput(record));
        await state.sessions.end(record.sessionId, 1, Date.now(), 60_000);
        expect(await state.sessions.publish(publishInput(record))).toEqual({ ok: false, reason: "not_live" });
        // not_live wins over stale
        expect(await state.sessions.publish(publishInput({ sessionId: record.sessionId, generation: 7 }))).toEqual({ ok: false, reason: "not_live" });
        expect((await state.sessions.get(record.sessionId))?.seq).toBe(1);
      });

      it("trims the log to bufferSize and tells whether it still reaches back far enough", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const id = record.sessionId;
        const t0 = Date.now();
        for (let i = 1; i <= 10; i++) {
          await state.sessions.publish(publishInput(record, { eventJson: `{"n":${i}}`, now: t0 + i, bufferSize: 5 }));
        }
        const ev = (n: number): { seq: number; ts: number; eventJson: string } => ({ seq: n, ts: t0 + n, eventJson: `{"n":${n}}` });
        expect((await state.sessions.view(id, 7))?.log).toEqual({ complete: true, events: [ev(8), ev(9), ev(10)] });
        expect((await state.sessions.view(id, 5))?.log).toEqual({ complete: true, events: [ev(6), ev(7), ev(8), ev(9), ev(10)] });
        expect((await state.sessions.view(id, 4))?.log).toEqual({ complete: false });
        expect((await state.sessions.view(id, 0))?.log).toEqual({ complete: false });
        expect((await state.sessions.view(id, 11))?.log).toEqual({ complete: false });
        expect((await state.sessions.view(id, 10))?.log).toEqual({ complete: true, events: [] });
        const noLog = await state.sessions.view(id);
        expect(noLog?.record.seq).toBe(10);
        expect(noLog && "log" in noLog).toBe(false);

        // a smaller buffer trims further on the next append
        await state.sessions.publish(publishInput(record, { eventJson: '{"n":11}', now: t0 + 11, bufferSize: 2 }));
        expect((await state.sessions.view(id, 8))?.log).toEqual({ complete: false });
        expect((await state.sessions.view(id, 9))?.log).toEqual({ complete: true, events: [ev(10), ev(11)] });
      });

      it("keeps the snapshot apart from the log: trimming never evicts state or heartbeat", async () => {
        const { record } = await state.sessions.claim(claimInput());
        await state.sessions.publish(publishInput(record, { kind: "state", eventJson: '{"type":"session_active","state":{"m":[]}}', stateJson: '{"m":[]}', bufferSize: 3 }));
        await state.sessions.publish(publishInput(record, { kind: "heartbeat", eventJson: '{"type":"heartbeat","active":true}', bufferSize: 3 }));
        for (let i = 0; i < 10; i++) await state.sessions.publish(publishInput(record, { bufferSize: 3 }));
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.log).toEqual({ complete: false });
        expect(view?.snapshot).toEqual({ stateJson: '{"m":[]}', hasState: true, heartbeatJson: '{"type":"heartbeat","active":true}' });
        expect((await state.sessions.view(record.sessionId, 9))?.log).toEqual({
          complete: true,
          events: [10, 11, 12].map((seq) => expect.objectContaining({ seq, eventJson: '{"type":"message_update"}' })),
        });

        // a later heartbeat replaces the earlier one; a heartbeat frame without an event clears it
        await state.sessions.publish(publishInput(record, { kind: "heartbeat", eventJson: '{"type":"heartbeat","active":false}' }));
        expect((await state.sessions.view(record.sessionId))?.snapshot.heartbeatJson).toBe('{"type":"heartbeat","active":false}');
        await state.sessions.publish(publishInput(record, { kind: "heartbeat", eventJson: undefined }));
        expect((await state.sessions.view(record.sessionId))?.snapshot).toEqual({ stateJson: '{"m":[]}', hasState: true, heartbeatJson: undefined });
      });

      it("keeps hasState true when a session_active carried no state", async () => {
        const { record } = await state.sessions.claim(claimInput());
        await state.sessions.publish(publishInput(record, { kind: "state", stateJson: '{"old":true}' }));
        await state.sessions.publish(publishInput(record, { kind: "state", eventJson: '{"type":"session_active"}', stateJson: undefined }));
        const view = await state.sessions.view(record.sessionId);
        expect(view?.snapshot).toEqual({ stateJson: undefined, hasState: true, heartbeatJson: undefined });
        // "other" frames never touch the snapshot
        await state.sessions.publish(publishInput(record, { kind: "other", stateJson: '{"ignored":1}' }));
        expect((await state.sessions.view(record.sessionId))?.snapshot).toEqual({ stateJson: undefined, hasState: true, heartbeatJson: undefined });
      });

      it("round-trips an event without JSON as undefined", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const now = Date.now();
        expect(await state.sessions.publish(publishInput(record, { eventJson: undefined, now }))).toEqual({ ok: true, seq: 1 });
        await state.sessions.publish(publishInput(record, { eventJson: "null", now: now + 1 }));
        const log = (await state.sessions.view(record.sessionId, 0))?.log;
        expect(log).toEqual({ complete: true, events: [{ seq: 1, ts: now, eventJson: undefined }, { seq: 2, ts: now + 1, eventJson: "null" }] });
        if (log?.complete) expect(log.events[0]?.eventJson).toBeUndefined();
      });

      it("round-trips event and state JSON byte for byte ([] and {}, unicode, spacing, escapes)", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const eventJson = '{ "type" : "session_active", "a":[], "o":{}, "n":[[],{}], "f":1.50, "e":1E3, "u":"h\u00e9llo \u{1F355} \\u00e9 \\"q\\"", "s":"},{\\"seq\\":9}" }';
        const stateJson = '{"messages":[],"meta":{},"title":"\u65E5\u672C\u8A9E \u{1F600}","esc":"\\n\\t\\u2028"}';
        const heartbeatJson = '[{"type":"heartbeat"},[],{}]';
        await state.sessions.publish(publishInput(record, { kind: "state", eventJson, stateJson }));
        await state.sessions.publish(publishInput(record, { kind: "heartbeat", eventJson: heartbeatJson }));
        const view = await state.sessions.view(record.sessionId, 0);
        expect(view?.snapshot).toEqual({ stateJson, hasState: true, heartbeatJson });
        const log = view?.log;
        expect(log?.complete).toBe(true);
        if (log?.complete) {
          expect(log.events.map((e) => e.eventJson)).toEqual([eventJson, heartbeatJson]);
          expect(log.events[0]?.eventJson === eventJson).toBe(true);
        }
      });

      it("applies record patches and expiresAt together with the append", async () => {
        const { record } = await state.sessions.claim(claimInput({ isEphemeral: true, expiresAt: Date.now() + 1_000 }));
        const id = record.sessionId;
        const model = { provider: "openai", id: "gpt", name: "GPT" };
        const lastHeartbeatAt = new Date().toISOString();
        const expiresAt = Date.now() + 99_000;
        await state.sessions.publish(
          publishInput(record, { kind: "heartbeat", expiresAt, patch: { isActive: true, lastHeartbeatAt, model, sessionName: "named" } }),
        );
        expect(await state.sessions.get(id)).toEqual({ ...record, seq: 1, isActive: true, lastHeartbeatAt, model, sessionName: "named", expiresAt });

        await state.sessions.publish(publishInput(record, { patch: { isActive: false, model: null, sessionName: null } }));
        expect(await state.sessions.get(id)).toEqual({ ...record, seq: 2, isActive: false, lastHeartbeatAt, model: null, sessionName: null, expiresAt: null });

        await state.sessions.publish(publishInput(record, { patch: { sessionName: "" } }));
        expect((await state.sessions.get(id))?.sessionName).toBe("");
      });
    });

    describe("sessions: expiry, end and listing", () => {
      it("touch refreshes expiresAt; listExpired finds live ephemeral sessions past it", async () => {
        const now = Date.now();
        const eph = await state.sessions.claim(claimInput({ isEphemeral: true, expiresAt: now + 1_000 }));
        const plain = await state.sessions.claim(claimInput({ isEphemeral: false, expiresAt: null }));
        const id = eph.record.sessionId;

        expect(await state.sessions.listExpired(now)).toEqual([]);
        expect(await state.sessions.listExpired(now + 999)).toEqual([]);
        expect(await state.sessions.listExpired(now + 1_000)).toEqual([{ sessionId: id, generation: 1 }]);

        await state.sessions.touch(id, now + 5_000, 60_000);
        expect((await state.sessions.get(id))?.expiresAt).toBe(now + 5_000);
        expect(await state.sessions.listExpired(now + 1_000)).toEqual([]);
        expect(await state.sessions.listExpired(now + 5_000)).toEqual([{ sessionId: id, generation: 1 }]);

        // a non-ephemeral session is never listed, whatever its expiresAt
        await state.sessions.touch(plain.record.sessionId, now + 10, 60_000);
        expect((await state.sessions.get(plain.record.sessionId))?.expiresAt).toBe(now + 10);
        expect(await state.sessions.listExpired(now + 5_000)).toEqual([{ sessionId: id, generation: 1 }]);

        // a reconnect reports its new generation
        const again = await state.sessions.claim(claimInput({ sessionId: id, isEphemeral: true, expiresAt: now + 2_000 }));
        expect(await state.sessions.listExpired(now + 2_000)).toEqual([{ sessionId: id, generation: again.record.generation }]);

        // publish moves the expiry too
        await state.sessions.publish(publishInput(again.record, { expiresAt: now + 3_000 }));
        expect(await state.sessions.listExpired(now + 2_999)).toEqual([]);
        expect(await state.sessions.listExpired(now + 3_000)).toEqual([{ sessionId: id, generation: 2 }]);

        await state.sessions.touch(id, null, 60_000);
        expect((await state.sessions.get(id))?.expiresAt).toBeNull();
        expect(await state.sessions.listExpired(now + 1e9)).toEqual([]);

        // touching an unknown session is a no-op
        await state.sessions.touch("no-such-session", now, 60_000);
        expect(await state.sessions.get("no-such-session")).toBeNull();
      });

      it("forgets a session when its ttl passes, unless touched", async () => {
        const idle = await state.sessions.claim(claimInput({ ttlMs: 150, isEphemeral: true, expiresAt: Date.now() }));
        const kept = await state.sessions.claim(claimInput({ ttlMs: 150 }));
        await state.sessions.publish(publishInput(idle.record, { ttlMs: 150 }));
        await sleep(60);
        await state.sessions.touch(kept.record.sessionId, null, 60_000);
        await sleep(180);
        expect(await state.sessions.get(idle.record.sessionId)).toBeNull();
        expect(await state.sessions.view(idle.record.sessionId, 0)).toBeNull();
        expect(await state.sessions.publish(publishInput(idle.record))).toEqual({ ok: false, reason: "not_live" });
        expect(await state.sessions.listExpired(Date.now() + 1e9)).toEqual([]);
        expect(await state.sessions.listByUser("u1")).toEqual([kept.record]);
        expect(await state.sessions.get(kept.record.sessionId)).toEqual(kept.record);

        // the forgotten id starts over
        const again = await state.sessions.claim(claimInput({ sessionId: idle.record.sessionId }));
        expect(again.outcome).toBe("created");
        expect(again.record).toMatchObject({ generation: 1, seq: 0 });
        expect((await state.sessions.view(idle.record.sessionId, 0))?.log).toEqual({ complete: true, events: [] });
        await state.sessions.publish(publishInput(again.record, { eventJson: '{"fresh":true}' }));
        expect((await state.sessions.view(idle.record.sessionId, 0))?.log).toEqual({
          complete: true,
          events: [expect.objectContaining({ seq: 1, eventJson: '{"fresh":true}' })],
        });
      });

      it("ends only the current live generation; the ended record stays readable", async () => {
        const now = Date.now();
        const first = await state.sessions.claim(claimInput({ isEphemeral: true, expiresAt: now + 10 }));
        const id = first.record.sessionId;
        await state.sessions.publish(publishInput(first.record, { kind: "heartbeat", patch: { isActive: true }, expiresAt: now + 10 }));
        const again = await state.sessions.claim(claimInput({ sessionId: id, isEphemeral: true, expiresAt: now + 10 }));
        await state.sessions.publish(publishInput(again.record, { kind: "state", stateJson: '{"s":1}', patch: { isActive: true }, expiresAt: now + 10 }));

        expect(await state.sessions.end(id, 1, now, 60_000)).toBeNull();
        expect(await state.sessions.end(id, 3, now, 60_000)).toBeNull();
        expect(await state.sessions.end("no-such-session", 1, now, 60_000)).toBeNull();
        expect((await state.sessions.get(id))?.live).toBe(true);
        expect(await state.sessions.listExpired(now + 10)).toEqual([{ sessionId: id, generation: 2 }]);

        const endedAt = now + 5;
        const ended = await state.sessions.end(id, 2, endedAt, 60_000);
        const expected: SessionRecord = {
          ...again.record,
          seq: 2,
          live: false,
          endedAt: new Date(endedAt).toISOString(),
          expiresAt: null,
          isActive: false,
        };
        expect(ended).toEqual(expected);
        expect(await state.sessions.get(id)).toEqual(expected);
        expect(await state.sessions.end(id, 2, endedAt, 60_000)).toBeNull();
        expect(await state.sessions.listByUser("u1")).toEqual([]);
        expect(await state.sessions.listExpired(now + 1e9)).toEqual([]);

        // the snapshot and log stay for replay
        const view = await state.sessions.view(id, 0);
        expect(view?.snapshot).toEqual({ stateJson: '{"s":1}', hasState: true, heartbeatJson: '{"type":"message_update"}' });
        expect(view?.log).toEqual({ complete: true, events: [expect.objectContaining({ seq: 1 }), expect.objectContaining({ seq: 2 })] });

        // touch is a no-op once ended
        await state.sessions.touch(id, now + 50_000, 60_000);
        expect(await state.sessions.get(id)).toEqual(expected);
        expect(await state.sessions.listExpired(now + 1e9)).toEqual([]);
      });

      it("lists a user's live sessions oldest first, and nobody else's", async () => {
        const now = Date.now();
        const newer = await state.sessions.claim(claimInput({ userId: "u1", now: now - 1_000 }));
        const older = await state.sessions.claim(claimInput({ userId: "u1", now: now - 3_000 }));
        const middle = await state.sessions.claim(claimInput({ userId: "u1", now: now - 2_000 }));
        const bobs = await state.sessions.claim(claimInput({ userId: "u2", userName: "Bob", now: now - 4_000 }));
        const ended = await state.sessions.claim(claimInput({ userId: "u1", now: now - 5_000 }));
        await state.sessions.end(ended.record.sessionId, 1, now, 60_000);
        // another user's claim of u1's id is reassigned and does not move it
        const stolen = await state.sessions.claim(claimInput({ userId: "u2", userName: "Bob", sessionId: older.record.sessionId, now }));
        expect(stolen.outcome).toBe("reassigned");

        expect(await state.sessions.listByUser("u1")).toEqual([older.record, middle.record, newer.record]);
        expect(await state.sessions.listByUser("u2")).toEqual([bobs.record, stolen.record]);
        expect(await state.sessions.listByUser("nobody")).toEqual([]);

        // listed records carry the latest state
        const again = await state.sessions.claim(claimInput({ userId: "u1", sessionId: middle.record.sessionId, cwd: "/elsewhere" }));
        const listed = await state.sessions.listByUser("u1");
        expect(listed.map((r) => r.sessionId)).toEqual([older.record.sessionId, middle.record.sessionId, newer.record.sessionId]);
        expect(listed[1]).toEqual(again.record);
      });

      it("counts a user's live sessions, up to a limit, and nobody else's", async () => {
        const mine = [];
        for (let i = 0; i < 4; i++) mine.push(await state.sessions.claim(claimInput({ userId: "u1" })));
        await state.sessions.claim(claimInput({ userId: "u2", userName: "Bob" }));
        expect(await state.sessions.countLive("u1", 100)).toBe(4);
        expect(await state.sessions.countLive("u1", 3)).toBe(3);
        expect(await state.sessions.countLive("u2", 100)).toBe(1);
        expect(await state.sessions.countLive("nobody", 100)).toBe(0);
        // An ended session no longer counts; registering it again makes it count again.
        const ended = mine[0]?.record;
        if (!ended) throw new Error("no session");
        await state.sessions.end(ended.sessionId, ended.generation, Date.now(), 60_000);
        expect(await state.sessions.countLive("u1", 100)).toBe(3);
        await state.sessions.claim(claimInput({ userId: "u1", sessionId: ended.sessionId }));
        expect(await state.sessions.countLive("u1", 100)).toBe(4);
        expect((await state.sessions.listByUser("u1")).length).toBe(4);
      });
    });
    describe("sessions: ended", () => {
      it("lists a user's ended sessions still kept, most recently ended first", async () => {
        const now = Date.now();
        const early = await state.sessions.claim(claimInput());
        const late = await state.sessions.claim(claimInput());
        const live = await state.sessions.claim(claimInput());
        const bobs = await state.sessions.claim(claimInput({ userId: "u2", userName: "Bob" }));
        const short = await state.sessions.claim(claimInput());
        const endedEarly = await state.sessions.end(early.record.sessionId, 1, now + 1, 60_000);
        const endedLate = await state.sessions.end(late.record.sessionId, 1, now + 3, 60_000);
        const endedBobs = await state.sessions.end(bobs.record.sessionId, 1, now + 2, 60_000);
        await state.sessions.end(short.record.sessionId, 1, now + 4, 50);
        expect(await state.sessions.listEnded("u1")).toEqual([
          expect.objectContaining({ sessionId: short.record.sessionId }),
          endedLate,
          endedEarly,
        ]);
        expect(await state.sessions.listEnded("u2")).toEqual([endedBobs]);
        expect(await state.sessions.listEnded("nobody")).toEqual([]);
        expect((await state.sessions.listEnded("u1")).map((r) => r.sessionId)).not.toContain(live.record.sessionId);

        // a re-created id is live again, and listed as ended once it ends again
        const again = await state.sessions.claim(claimInput({ sessionId: early.record.sessionId }));
        await sleep(120);
        expect(await state.sessions.listEnded("u1")).toEqual([endedLate]);
        const endedAgain = await state.sessions.end(early.record.sessionId, again.record.generation, now + 5, 60_000);
        expect(await state.sessions.listEnded("u1")).toEqual([endedAgain, endedLate]);
      });
    });

    describe("sessions: runner links", () => {
      const link = { runnerId: "r-1", runnerName: "laptop" };

      it("a created claim consumes the pending link of the requested id", async () => {
        const input = claimInput();
        const id = input.sessionId ?? "";
        expect(await state.sessions.getPendingLink(id)).toBeNull();
        await state.sessions.setPendingLink(id, link, 60_000);
        expect(await state.sessions.getPendingLink(id)).toEqual(link);

        const created = await state.sessions.claim(input);
        expect(created.outcome).toBe("created");
        expect(created.record).toMatchObject({ sessionId: id, runnerId: "r-1", runnerName: "laptop", generation: 1 });
        expect(await state.sessions.get(id)).toEqual(created.record);
        expect(await state.sessions.getPendingLink(id)).toBeNull();

        // a link without a runner name; a later link replaces an earlier one
        const other = claimInput();
        const otherId = other.sessionId ?? "";
        await state.sessions.setPendingLink(otherId, link, 60_000);
        await state.sessions.setPendingLink(otherId, { runnerId: "r-2", runnerName: null }, 60_000);
        expect(await state.sessions.getPendingLink(otherId)).toEqual({ runnerId: "r-2", runnerName: null });
        expect((await state.sessions.claim(other)).record).toMatchObject({ runnerId: "r-2", runnerName: null });
        expect(await state.sessions.getPendingLink(otherId)).toBeNull();
      });

      it("re-creating the same user's ended id consumes its pending link too", async () => {
        const first = await state.sessions.claim(claimInput());
        const id = first.record.sessionId;
        await state.sessions.linkRunner(id, { runnerId: "r-old", runnerName: "old" });
        await state.sessions.end(id, 1, Date.now(), 60_000);
        await state.sessions.setPendingLink(id, link, 60_000);
        const again = await state.sessions.claim(claimInput({ sessionId: id }));
        expect(again.outcome).toBe("created");
        expect(again.record).toMatchObject({ runnerId: "r-1", runnerName: "laptop", generation: 2 });
        expect(await state.sessions.getPendingLink(id)).toBeNull();

        // without a link, a re-created id starts without runner fields
        await state.sessions.end(id, 2, Date.now(), 60_000);
        const third = await state.sessions.claim(claimInput({ sessionId: id }));
        expect(third.record).toMatchObject({ runnerId: null, runnerName: null, generation: 3 });
      });

      it("a reconnected claim keeps the runner fields and leaves the pending link alone", async () => {
        const first = await state.sessions.claim(claimInput());
        const id = first.record.sessionId;
        const linked = await state.sessions.linkRunner(id, { runnerId: "r-0", runnerName: null });
        await state.sessions.setPendingLink(id, link, 60_000);
        const again = await state.sessions.claim(claimInput({ sessionId: id }));
        expect(again.outcome).toBe("reconnected");
        expect(again.record).toEqual({ ...linked, generation: 2 });
        expect(await state.sessions.getPendingLink(id)).toEqual(link);
      });

      it("a reassigned claim applies no link, and leaves the requested id's link alone", async () => {
        const owner = await state.sessions.claim(claimInput({ userId: "u1" }));
        const id = owner.record.sessionId;
        await state.sessions.setPendingLink(id, link, 60_000);
        const fresh = `s-${newId()}`;
        await state.sessions.setPendingLink(fresh, { runnerId: "r-9", runnerName: "nine" }, 60_000);
        const other = await state.sessions.claim(claimInput({ userId: "u2", userName: "Bob", sessionId: id, newId: () => fresh }));
        expect(other.outcome).toBe("reassigned");
        expect(other.record).toMatchObject({ sessionId: fresh, runnerId: null, runnerName: null });
        expect(await state.sessions.getPendingLink(id)).toEqual(link);
        expect(await state.sessions.getPendingLink(fresh)).toEqual({ runnerId: "r-9", runnerName: "nine" });
        expect(await state.sessions.get(id)).toEqual(owner.record);
      });

      it("a claim without a requested id consumes no link", async () => {
        const made = `gen-${newId()}`;
        await state.sessions.setPendingLink(made, link, 60_000);
        const result = await state.sessions.claim(claimInput({ sessionId: undefined, newId: () => made }));
        expect(result.outcome).toBe("created");
        expect(result.record).toMatchObject({ sessionId: made, runnerId: null, runnerName: null });
        expect(await state.sessions.getPendingLink(made)).toEqual(link);
      });

      it("forgets a pending link after its ttl", async () => {
        const short = claimInput();
        const long = claimInput();
        await state.sessions.setPendingLink(short.sessionId ?? "", link, 50);
        await state.sessions.setPendingLink(long.sessionId ?? "", link, 60_000);
        await sleep(120);
        expect(await state.sessions.getPendingLink(short.sessionId ?? "")).toBeNull();
        expect(await state.sessions.getPendingLink(long.sessionId ?? "")).toEqual(link);
        expect((await state.sessions.claim(short)).record).toMatchObject({ runnerId: null, runnerName: null });
        expect((await state.sessions.claim(long)).record).toMatchObject(link);
      });

      it("linkRunner sets the runner fields of a live session only", async () => {
        const { record } = await state.sessions.claim(claimInput());
        const id = record.sessionId;
        const linked = await state.sessions.linkRunner(id, link);
        expect(linked).toEqual({ ...record, runnerId: "r-1", runnerName: "laptop" });
        expect(await state.sessions.get(id)).toEqual(linked);
        const renamed = await state.sessions.linkRunner(id, { runnerId: "r-2", runnerName: null });
        expect(renamed).toEqual({ ...record, runnerId: "r-2", runnerName: null });

        const ended = await state.sessions.end(id, 1, Date.now(), 60_000);
        expect(await state.sessions.linkRunner(id, link)).toBeNull();
        expect(await state.sessions.get(id)).toEqual(ended);
        expect(await state.sessions.linkRunner("no-such-session", link)).toBeNull();
        expect(await state.sessions.get("no-such-session")).toBeNull();
      });
    });

    describe("runners", () => {
      const registration = (overrides: Partial<RunnerRegistration> = {}): RunnerRegistration => ({
        runnerId: `r-${newId()}`,
        userId: "u1",
        userName: "Alice",
        name: "laptop",
        roots: ["/work", "/home/alice"],
        skills: [{ name: "review", description: "Reviews code", filePath: "/skills/review.md" }],
        nodeId: "node-a",
        connectedAt: new Date().toISOString(),
        ...overrides,
      });

      it("binds a runner id to its secret and first user", async () => {
        expect(await state.runners.bindSecret("r-1", "secret-1", "u1")).toEqual({ ok: true });
        expect(await state.runners.bindSecret("r-1", "secret-1", "u1")).toEqual({ ok: true });
        expect(await state.runners.bindSecret("r-1", "secret-2", "u1")).toEqual({ ok: false, reason: "secret_mismatch" });
        expect(await state.runners.bindSecret("r-1", "secret-1", "u2")).toEqual({ ok: false, reason: "other_user" });
        // the secret is checked first
        expect(await state.runners.bindSecret("r-1", "secret-2", "u2")).toEqual({ ok: false, reason: "secret_mismatch" });
        // refusals change nothing; other ids are independent
        expect(await state.runners.bindSecret("r-1", "secret-1", "u1")).toEqual({ ok: true });
        expect(await state.runners.bindSecret("r-2", "secret-2", "u2")).toEqual({ ok: true });
        expect(await state.runners.bindSecret("r-2", "secret-1", "u2")).toEqual({ ok: false, reason: "secret_mismatch" });
      });

      it("never stores the plain runner secret", async (ctx) => {
        if (!subject.dump) ctx.skip();
        const secret = randomHex(32);
        expect(await state.runners.bindSecret("r-1", secret, "u1")).toEqual({ ok: true });
        await state.runners.register(registration({ runnerId: "r-1" }), 60_000);
        expect((await subject.dump?.()) ?? "").not.toContain(secret);
      });

      it("registers generations, keeping a live predecessor's sessions", async () => {
        const input = registration();
        const id = input.runnerId;
        expect(await state.runners.get(id)).toBeNull();
        const first = await state.runners.register(input, 60_000);
        expect(first).toEqual({ ...input, sessionIds: [], generation: 1 });
        expect(await state.runners.get(id)).toEqual(first);

        await state.runners.addSession(id, "s-1");
        await state.runners.addSession(id, "s-2");
        const again = registration({ runnerId: id, name: null, roots: [], skills: [], nodeId: "node-b" });
        const second = await state.runners.register(again, 60_000);
        expect(second).toEqual({ ...again, sessionIds: ["s-1", "s-2"], generation: 2 });
        expect(await state.runners.get(id)).toEqual(second);

        // once removed, the id starts over
        expect(await state.runners.remove(id, 2)).toBe(true);
        expect(await state.runners.get(id)).toBeNull();
        expect(await state.runners.register(input, 60_000)).toEqual({ ...input, sessionIds: [], generation: 1 });
      });

      it("refreshes and removes only the current generation", async () => {
        const input = registration();
        const id = input.runnerId;
        await state.runners.register(input, 60_000);
        const second = await state.runners.register(input, 60_000);
        expect(await state.runners.refresh(id, 1, 60_000)).toBe(false);
        expect(await state.runners.remove(id, 1)).toBe(false);
        expect(await state.runners.refresh(id, 3, 60_000)).toBe(false);
        expect(await state.runners.get(id)).toEqual(second);
        expect(await state.runners.refresh(id, 2, 60_000)).toBe(true);
        expect(await state.runners.remove(id, 2)).toBe(true);
        expect(await state.runners.get(id)).toBeNull();
        expect(await state.runners.refresh(id, 2, 60_000)).toBe(false);
        expect(await state.runners.remove(id, 2)).toBe(false);
        expect(await state.runners.refresh("no-such-runner", 1, 60_000)).toBe(false);
        expect(await state.runners.remove("no-such-runner", 1)).toBe(false);
        expect(await state.runners.listByUser("u1")).toEqual([]);
      });

      it("forgets a runner when its ttl passes, unless refreshed; updates never resurrect or keep it", async () => {
        const idle = await state.runners.register(registration({ connectedAt: "2024-01-01T00:00:01.000Z" }), 80);
        const kept = await state.runners.register(registration({ connectedAt: "2024-01-01T00:00:02.000Z" }), 80);
        const long = await state.runners.register(registration({ connectedAt: "2024-01-01T00:00:03.000Z" }), 60_000);
        expect(await state.runners.refresh(kept.runnerId, 1, 60_000)).toBe(true);
        // updates keep the record's ttl
        await state.runners.setSkills(idle.runnerId, []);
        await state.runners.addSession(idle.runnerId, "s-1");
        await state.runners.removeSession(idle.runnerId, "s-1");
        await sleep(130);
        expect(await state.runners.get(idle.runnerId)).toBeNull();
        expect(await state.runners.refresh(idle.runnerId, 1, 60_000)).toBe(false);
        expect(await state.runners.listByUser("u1")).toEqual([kept, long]);

        // updates of a gone runner are no-ops
        await state.runners.setSkills(idle.runnerId, []);
        await state.runners.addSession(idle.runnerId, "s-2");
        await state.runners.removeSession(idle.runnerId, "s-2");
        expect(await state.runners.get(idle.runnerId)).toBeNull();
        expect(await state.runners.listByUser("u1")).toEqual([kept, long]);
        // a forgotten id starts over at generation 1
        expect((await state.runners.register(registration({ runnerId: idle.runnerId }), 60_000)).generation).toBe(1);
      });

      it("lists a user's live runners by connectedAt then id, and nobody else's", async () => {
        const at = (s: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
        const late = await state.runners.register(registration({ runnerId: "r-a", connectedAt: at(3) }), 60_000);
        const tieB = await state.runners.register(registration({ runnerId: "r-c", connectedAt: at(1) }), 60_000);
        const tieA = await state.runners.register(registration({ runnerId: "r-b", connectedAt: at(1) }), 60_000);
        const bobs = await state.runners.register(registration({ runnerId: "r-d", userId: "u2", userName: "Bob", connectedAt: at(2) }), 60_000);
        const removed = await state.runners.register(registration({ runnerId: "r-e", connectedAt: at(0) }), 60_000);
        await state.runners.remove(removed.runnerId, 1);

        expect(await state.runners.listByUser("u1")).toEqual([tieA, tieB, late]);
        expect(await state.runners.listByUser("u2")).toEqual([bobs]);
        expect(await state.runners.listByUser("nobody")).toEqual([]);

        // listed records carry the latest state; a re-registration under another user moves the runner
        await state.runners.addSession("r-a", "s-1");
        const moved = await state.runners.register(registration({ runnerId: "r-b", userId: "u2", userName: "Bob", connectedAt: at(4) }), 60_000);
        expect(await state.runners.listByUser("u1")).toEqual([tieB, { ...late, sessionIds: ["s-1"] }]);
        expect(await state.runners.listByUser("u2")).toEqual([bobs, moved]);
      });

      it("sets skills and adds and removes sessions of the live record", async () => {
        const input = registration();
        const id = input.runnerId;
        const record = await state.runners.register(input, 60_000);
        const skills = [
          { name: "a", description: "", filePath: "/a.md" },
          { name: "b", description: "B \u00e9 \u{1F355}", filePath: "/b.md" },
        ];
        await state.runners.setSkills(id, skills);
        expect(await state.runners.get(id)).toEqual({ ...record, skills });
        await state.runners.setSkills(id, []);
        expect((await state.runners.get(id))?.skills).toEqual([]);

        await state.runners.addSession(id, "s-2");
        await state.runners.addSession(id, "s-1");
        await state.runners.addSession(id, "s-2");
        await state.runners.addSession(id, "s:3 \u00e9");
        expect((await state.runners.get(id))?.sessionIds).toEqual(["s-2", "s-1", "s:3 \u00e9"]);
        await state.runners.removeSession(id, "s-1");
        await state.runners.removeSession(id, "never-added");
        expect((await state.runners.get(id))?.sessionIds).toEqual(["s-2", "s:3 \u00e9"]);
        await state.runners.addSession(id, "s-1");
        expect((await state.runners.get(id))?.sessionIds).toEqual(["s-2", "s:3 \u00e9", "s-1"]);
        expect(await state.runners.get(id)).toEqual({ ...record, skills: [], sessionIds: ["s-2", "s:3 \u00e9", "s-1"] });

        await state.runners.setSkills("no-such-runner", skills);
        await state.runners.addSession("no-such-runner", "s-1");
        await state.runners.removeSession("no-such-runner", "s-1");
        expect(await state.runners.get("no-such-runner")).toBeNull();
        expect(await state.runners.listByUser("u1")).toEqual([await state.runners.get(id)]);
      });
    });

    describe("terminals", () => {
      const terminal = (overrides: Partial<TerminalRecord> = {}): TerminalRecord => ({
        terminalId: `t-${newId()}`,
        runnerId: "r-1",
        userId: "u1",
        cwd: "/work/a",
        cols: 80,
        rows: 24,
        spawned: false,
        exited: false,
        viewer: null,
        createdAt: new Date().toISOString(),
        ...overrides,
      });
      /** A frame of exactly 10 bytes. */
      const frame10 = (i: number): string => `{"d":"${String(i).padStart(2, "0")}"}`;

      it("creates, reads and updates a terminal", async () => {
        const record = terminal();
        const id = record.terminalId;
        await state.terminals.create(record, 60_000);
        expect(await state.terminals.get(id)).toEqual(record);
        expect(await state.terminals.get("no-such-terminal")).toBeNull();

        const nullCwd = terminal({ cwd: null, spawned: true, exited: true, viewer: "v-0" });
        await state.terminals.create(nullCwd, 60_000);
        expect(await state.terminals.get(nullCwd.terminalId)).toEqual(nullCwd);

        const spawned = await state.terminals.update(id, { spawned: true, cols: 120 });
        expect(spawned).toEqual({ ...record, spawned: true, cols: 120 });
        expect(await state.terminals.update(id, { exited: true, rows: 50, spawned: false })).toEqual({ ...record, cols: 120, rows: 50, exited: true });
        expect(await state.terminals.update(id, {})).toEqual({ ...record, cols: 120, rows: 50, exited: true });
        expect(await state.terminals.get(id)).toEqual({ ...record, cols: 120, rows: 50, exited: true });
        expect(await state.terminals.update("no-such-terminal", { spawned: true }, 60_000)).toBeNull();
        expect(await state.terminals.get("no-such-terminal")).toBeNull();

        // create replaces an earlier terminal of the same id, buffer included
        await state.terminals.frame(id, frame10(1), 1_000);
        const replaced = terminal({ terminalId: id, cols: 10 });
        await state.terminals.create(replaced, 60_000);
        expect(await state.terminals.get(id)).toEqual(replaced);
        expect(await state.terminals.attach(id, "v-1")).toEqual({ record: { ...replaced, viewer: "v-1" }, buffered: [] });
      });

      it("applies the ttl rules of update: a number sets it, null removes it, undefined keeps it", async () => {
        const persisted = terminal();
        const kept = terminal();
        const shortened = terminal();
        const untouched = terminal();
        await state.terminals.create(persisted, 80);
        await state.terminals.create(kept, 80);
        await state.terminals.create(shortened, 60_000);
        await state.terminals.create(untouched, 60_000);
        await state.terminals.frame(persisted.terminalId, frame10(1), 1_000);
        await state.terminals.frame(shortened.terminalId, frame10(2), 1_000);
        expect(await state.terminals.update(persisted.terminalId, { spawned: true }, null)).toEqual({ ...persisted, spawned: true });
        // neither an update without ttl, nor frames, attach and detach change the ttl
        await state.terminals.update(kept.terminalId, { spawned: true });
        await state.terminals.update(kept.terminalId, { cols: 1 }, undefined);
        await state.terminals.frame(kept.terminalId, frame10(3), 1_000);
        await state.terminals.attach(kept.terminalId, "v-1");
        await state.terminals.detach(kept.terminalId, "v-1");
        await state.terminals.update(shortened.terminalId, {}, 80);
        await state.terminals.update(untouched.terminalId, { exited: true });
        await sleep(130);

        expect(await state.terminals.get(kept.terminalId)).toBeNull();
        expect(await state.terminals.get(shortened.terminalId)).toBeNull();
        expect(await state.terminals.frame(shortened.terminalId, frame10(4), 1_000)).toEqual({ live: false, known: false });
        expect(await state.terminals.attach(shortened.terminalId, "v-2")).toBeNull();
        expect(await state.terminals.get(untouched.terminalId)).toEqual({ ...untouched, exited: true });
        // the buffer lost its ttl with the record
        expect(await state.terminals.attach(persisted.terminalId, "v-3")).toEqual({
          record: { ...persisted, spawned: true, viewer: "v-3" },
          buffered: [frame10(1)],
        });
        expect((await state.terminals.listByRunner("r-1")).map((t) => t.terminalId).sort()).toEqual(
          [persisted.terminalId, untouched.terminalId].sort(),
        );
      });

      it("buffers frames without a viewer, dropping the oldest beyond maxBytes", async () => {
        const record = terminal();
        const id = record.terminalId;
        await state.terminals.create(record, 60_000);
        for (let i = 1; i <= 4; i++) {
          expect(await state.terminals.frame(id, frame10(i), 25)).toEqual({ live: false, known: true });
        }
        expect(await state.terminals.get(id)).toEqual(record);
        expect(await state.terminals.attach(id, "v-1")).toEqual({ record: { ...record, viewer: "v-1" }, buffered: [frame10(3), frame10(4)] });
        // taken: a second attach finds nothing
        expect(await state.terminals.attach(id, "v-1")).toEqual({ record: { ...record, viewer: "v-1" }, buffered: [] });
        expect(await state.terminals.detach(id, "v-1")).toEqual(record);

        // the byte count starts over after an attach; an exact fit is kept
        for (let i = 5; i <= 7; i++) await state.terminals.frame(id, frame10(i), 30);
        expect((await state.terminals.attach(id, "v-1"))?.buffered).toEqual([frame10(5), frame10(6), frame10(7)]);
        await state.terminals.detach(id, "v-1");

        // bytes are UTF-8 bytes: "é" is two
        const accented = '{"d":"\u00e9"}';
        const plain = '{"d":"a"}';
        expect(Buffer.byteLength(accented)).toBe(10);
        expect(Buffer.byteLength(plain)).toBe(9);
        await state.terminals.frame(id, accented, 18);
        await state.terminals.frame(id, plain, 18);
        expect((await state.terminals.attach(id, "v-1"))?.buffered).toEqual([plain]);
        await state.terminals.detach(id, "v-1");
        await state.terminals.frame(id, accented, 19);
        await state.terminals.frame(id, plain, 19);
        expect((await state.terminals.attach(id, "v-1"))?.buffered).toEqual([accented, plain]);
        await state.terminals.detach(id, "v-1");

        // a frame larger than maxBytes on its own is not kept either
        await state.terminals.frame(id, frame10(8), 25);
        await state.terminals.frame(id, `{"d":"${"x".repeat(30)}"}`, 25);
        expect((await state.terminals.attach(id, "v-1"))?.buffered).toEqual([]);

        // frame text comes back byte for byte
        await state.terminals.detach(id, "v-1");
        const odd = '{ "data" : "\\u001b[31m\u65E5\u{1F355}\\n", "a":[], "o":{} }';
        await state.terminals.frame(id, odd, 1_000);
        expect((await state.terminals.attach(id, "v-1"))?.buffered).toEqual([odd]);

        expect(await state.terminals.frame("no-such-terminal", frame10(1), 1_000)).toEqual({ live: false, known: false });
        expect(await state.terminals.get("no-such-terminal")).toBeNull();
      });

      it("is live while a viewer is attached; detach by a stale viewer does nothing", async () => {
        const record = terminal();
        const id = record.terminalId;
        await state.terminals.create(record, 60_000);
        await state.terminals.frame(id, frame10(1), 1_000);
        await state.terminals.frame(id, frame10(2), 1_000);
        expect(await state.terminals.attach(id, "v-1")).toEqual({ record: { ...record, viewer: "v-1" }, buffered: [frame10(1), frame10(2)] });
        expect(await state.terminals.frame(id, frame10(3), 1_000)).toEqual({ live: true, known: true });

        // another viewer replaces the first; nothing was stored while live
        expect(await state.terminals.attach(id, "v-2")).toEqual({ record: { ...record, viewer: "v-2" }, buffered: [] });
        expect(await state.terminals.detach(id, "v-1")).toEqual({ ...record, viewer: "v-2" });
        expect(await state.terminals.get(id)).toEqual({ ...record, viewer: "v-2" });
        expect(await state.terminals.frame(id, frame10(4), 1_000)).toEqual({ live: true, known: true });

        expect(await state.terminals.detach(id, "v-2")).toEqual(record);
        expect(await state.terminals.detach(id, "v-2")).toEqual(record);
        expect(await state.terminals.frame(id, frame10(5), 1_000)).toEqual({ live: false, known: true });
        expect(await state.terminals.attach(id, "v-3")).toEqual({ record: { ...record, viewer: "v-3" }, buffered: [frame10(5)] });

        expect(await state.terminals.attach("no-such-terminal", "v-1")).toBeNull();
        expect(await state.terminals.detach("no-such-terminal", "v-1")).toBeNull();
        expect(await state.terminals.get("no-such-terminal")).toBeNull();
      });

      it("deletes a terminal with its buffer, and lists a runner's terminals", async () => {
        const at = (s: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
        const later = terminal({ terminalId: "t-a", createdAt: at(2) });
        const tieB = terminal({ terminalId: "t-c", createdAt: at(1) });
        const tieA = terminal({ terminalId: "t-b", createdAt: at(1) });
        const other = terminal({ terminalId: "t-d", runnerId: "r-2", createdAt: at(0) });
        for (const t of [later, tieB, tieA, other]) await state.terminals.create(t, 60_000);
        expect(await state.terminals.listByRunner("r-1")).toEqual([tieA, tieB, later]);
        expect(await state.terminals.listByRunner("r-2")).toEqual([other]);
        expect(await state.terminals.listByRunner("nobody")).toEqual([]);

        await state.terminals.frame(tieA.terminalId, frame10(1), 1_000);
        await state.terminals.delete(tieA.terminalId);
        expect(await state.terminals.get(tieA.terminalId)).toBeNull();
        expect(await state.terminals.frame(tieA.terminalId, frame10(2), 1_000)).toEqual({ live: false, known: false });
        expect(await state.terminals.attach(tieA.terminalId, "v-1")).toBeNull();
        await expect(state.terminals.delete(tieA.terminalId)).resolves.toBeUndefined();
        await expect(state.terminals.delete("no-such-terminal")).resolves.toBeUndefined();

        // listed records carry the latest state; a re-created id moves to its new runner
        await state.terminals.attach(later.terminalId, "v-1");
        const moved = terminal({ terminalId: tieB.terminalId, runnerId: "r-2", createdAt: at(3) });
        await state.terminals.create(moved, 60_000);
        expect(await state.terminals.listByRunner("r-1")).toEqual([{ ...later, viewer: "v-1" }]);
        expect(await state.terminals.listByRunner("r-2")).toEqual([other, moved]);

        // a re-created id starts with an empty buffer
        await state.terminals.create(tieA, 60_000);
        expect(await state.terminals.attach(tieA.terminalId, "v-1")).toEqual({ record: { ...tieA, viewer: "v-1" }, buffered: [] });
      });
    });

    describe("push subscriptions", () => {
      const subscription = (overrides: Partial<PushSubscriptionRecord> = {}): PushSubscriptionRecord => ({
        endpoint: `https://push.test/${newId()}`,
        keys: { p256dh: "BNc-p256dh", auth: "auth-secret" },
        enabledEvents: "*",
        userId: "u1",
        createdAt: new Date().toISOString(),
        ...overrides,
      });

      it("adds, replaces by endpoint, lists and removes a user's subscriptions", async () => {
        const at = (s: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
        const later = subscription({ endpoint: "https://push.test/a", createdAt: at(2) });
        const tieB = subscription({ endpoint: "https://push.test/c", createdAt: at(1), enabledEvents: "session_end,error" });
        const tieA = subscription({ endpoint: "https://push.test/b", createdAt: at(1) });
        const bobs = subscription({ endpoint: "https://push.test/a", userId: "u2", createdAt: at(0) });
        for (const s of [later, tieB, tieA, bobs]) await state.push.add(s);
        expect(await state.push.list("u1")).toEqual([tieA, tieB, later]);
        expect(await state.push.list("u2")).toEqual([bobs]);
        expect(await state.push.list("nobody")).toEqual([]);

        const replaced = { ...tieB, keys: { p256dh: "new-key", auth: "new-auth" }, enabledEvents: "*", createdAt: at(5) };
        await state.push.add(replaced);
        expect(await state.push.list("u1")).toEqual([tieA, later, replaced]);

        expect(await state.push.remove("u1", later.endpoint)).toBe(true);
        expect(await state.push.remove("u1", later.endpoint)).toBe(false);
        expect(await state.push.remove("u1", "https://push.test/none")).toBe(false);
        expect(await state.push.remove("nobody", later.endpoint)).toBe(false);
        expect(await state.push.list("u1")).toEqual([tieA, replaced]);
        // the same endpoint of another user is another subscription
        expect(await state.push.list("u2")).toEqual([bobs]);
        expect(await state.push.remove("u2", bobs.endpoint)).toBe(true);
        expect(await state.push.list("u2")).toEqual([]);
      });
    });

  });
}
