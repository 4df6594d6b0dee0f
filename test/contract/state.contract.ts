import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashSecret, newId } from "../../server/auth/secrets.js";
import type { ClaimInput, PublishInput, SessionRecord, SharedState } from "../../server/state/types.js";

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

function publishInput(record: Pick<SessionRecord, "sessionId" | "generation">, overrides: Partial<PublishInput> = {}): PublishInput {
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
      it("creates, verifies, lists and revokes keys", async () => {
        const a = await state.keys.create({ userId: "u1", userName: "Alice", name: "laptop" });
        const b = await state.keys.create({ userId: "u1", userName: "Alice" });
        const c = await state.keys.create({ userId: "u2", userName: "Bob", name: null });
        expect(a.key).toMatch(/^[0-9a-f]{64}$/);
        expect(new Set([a.key, b.key, c.key]).size).toBe(3);
        expect(a.meta).toEqual({ id: a.meta.id, userId: "u1", userName: "Alice", name: "laptop", createdAt: a.meta.createdAt });
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

        expect(await state.keys.revoke(a.meta.id)).toBe(true);
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
        const token = await state.logins.create({ userId: "u1", userName: "Alice" }, 60_000);
        const other = await state.logins.create({ userId: "u2", userName: "Bob" }, 60_000);
        expect(token).toMatch(/^[0-9a-f]{64}$/);
        expect(await state.logins.verify(token)).toEqual({ userId: "u1", userName: "Alice" });
        expect(await state.logins.verify(other)).toEqual({ userId: "u2", userName: "Bob" });
        expect(await state.logins.verify(`${token}x`)).toBeNull();
        await state.logins.delete(token);
        expect(await state.logins.verify(token)).toBeNull();
        expect(await state.logins.verify(other)).toEqual({ userId: "u2", userName: "Bob" });
        await expect(state.logins.delete("never-issued")).resolves.toBeUndefined();
      });

      it("expires logins after their ttl", async () => {
        const short = await state.logins.create({ userId: "u1", userName: "Alice" }, 50);
        const long = await state.logins.create({ userId: "u1", userName: "Alice" }, 60_000);
        expect(await state.logins.verify(short)).toEqual({ userId: "u1", userName: "Alice" });
        await sleep(120);
        expect(await state.logins.verify(short)).toBeNull();
        expect(await state.logins.verify(long)).toEqual({ userId: "u1", userName: "Alice" });
      });

      it("never stores the plain token", async (ctx) => {
        if (!subject.dump) ctx.skip();
        const token = await state.logins.create({ userId: "u1", userName: "Alice" }, 60_000);
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
    });
  });
}
