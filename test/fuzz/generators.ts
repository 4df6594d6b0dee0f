/**
 * Seeded generators of hostile input for test/fuzz/fuzz.test.ts: malformed and wrongly shaped legacy
 * `/ws/*` frames, Socket.IO / engine.io packets as raw text, garbage handshakes, raw HTTP upgrade
 * requests and raw WebSocket frames. Everything is drawn from one `Rng` (mulberry32, no dependency), so a
 * seed names an input sequence exactly. Nothing here does I/O.
 */

import { createHash } from "node:crypto";

// ---------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a tiny 32-bit PRNG, good enough for fuzzing and identical on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An independent seed for item `index` of a run (a murmur3 finaliser over seed and index). */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(items.length)] as T;
  }
  /** Picks a value by weight: `[[weight, value], ...]`. */
  weighted<T>(entries: ReadonlyArray<readonly [number, T]>): T {
    const total = entries.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of entries) {
      r -= w;
      if (r < 0) return v;
    }
    return (entries[entries.length - 1] as readonly [number, T])[1];
  }
  hex(chars: number): string {
    let out = "";
    while (out.length < chars) out += ((this.next() * 0x100000000) >>> 0).toString(16).padStart(8, "0");
    return out.slice(0, chars);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// What generators produce

/** One message as it goes on the wire (a WebSocket frame, or raw TCP bytes), with what made it. */
export interface Wire {
  data: string | Buffer;
  /** Send as a binary WebSocket frame (text otherwise; a Buffer sent as text carries its bytes as they are). */
  binary: boolean;
  /** The generator's choices, short: printed with the input when a run fails. */
  note: string;
}

const wire = (data: string | Buffer, note: string, binary = false): Wire => ({ data, binary, note });

/** A printable, bounded preview of an input (for failure messages). */
export function preview(data: string | Buffer, max = 240): string {
  const size = typeof data === "string" ? data.length : data.byteLength;
  const head = typeof data === "string" ? data.slice(0, max) : data.subarray(0, max).toString("latin1");
  const shown = JSON.stringify(head).slice(1, -1);
  return size > max ? `${shown}… (${size} ${typeof data === "string" ? "chars" : "bytes"}, sha1 ${sha1(data)})` : shown;
}

const sha1 = (data: string | Buffer): string => createHash("sha1").update(data).digest("hex").slice(0, 12);

// ---------------------------------------------------------------------------------------------------
// The ids a generator may name. The test keeps them current (tokens change on every register).

export interface FuzzIds {
  /** The fuzzing user: a session with its token, runners (id and secret), a terminal, a spawned session. */
  own: {
    sessionId: string;
    token: string;
    runnerId: string;
    runnerSecret: string;
    terminalId: string;
    spawnedSessionId: string | null;
    /** A second runner of the fuzzer that fuzz connections register as (the first one stays untouched). */
    fuzzRunnerId: string;
    fuzzRunnerSecret: string;
    fuzzTerminalId: string | null;
  };
  /** Someone else: the victim's session, token, runner and terminal. */
  victim: { sessionId: string; token: string; runnerId: string; runnerSecret: string; terminalId: string };
  /** What the current connection registered (set by the test from the relay's replies). */
  conn: { sessionId: string | null; token: string | null; runnerId: string | null };
  /** Request ids seen on the wire (skill requests), if any. */
  requestIds: string[];
}

// ---------------------------------------------------------------------------------------------------
// Scalars

/** Object.prototype members (and friends) a lookup table must not find. */
export const PROTO_NAMES = [
  "__proto__",
  "constructor",
  "prototype",
  "valueOf",
  "toString",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
] as const;

const UNICODE = [
  "é",
  "日本語",
  "🍕",
  "\u200b",
  "\u202e",
  "\ufeff",
  "\u0000",
  "\ud800",
  "\udfff",
  "\ud83d",
  "𝕏",
  "\u2028\u2029",
  "Ω≈ç√",
  "\t\r\n",
  "\u001b[31m",
  "\uffff",
  "\u0301\u0301\u0301",
];

const NASTY = [
  "",
  " ",
  "   \t ",
  "null",
  "undefined",
  "true",
  "0",
  "-1",
  "NaN",
  "../../../../etc/passwd",
  "%2e%2e%2f%00",
  "/",
  "\\",
  "*",
  "?x=1#y",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "${jndi:ldap://127.0.0.1/x}",
  "{{7*7}}",
  "\r\nX-Injected: 1",
  "%s%s%s%n",
  "a/b/c",
  "session:x",
  "hub:user:victim",
  ...PROTO_NAMES,
];

export const NUMBERS = [
  0,
  1,
  -1,
  0.5,
  1.5,
  -1.5,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e21,
  1e-7,
  123456789.125,
];

/** Number literals JSON.stringify never writes (some are not JSON at all). */
export const NUMBER_TEXTS = [
  "1e309",
  "-1e309",
  "-0",
  "-0.0",
  "0.0",
  "1E400",
  "1e-400",
  "123456789012345678901234567890",
  "-0.0e-0",
  "NaN",
  "Infinity",
  "-Infinity",
  "0x10",
  "01",
  "+1",
  ".5",
  "5.",
  "1e",
  "--1",
  "1_000",
];

/** Byte sequences that are not UTF-8. */
export const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
];

/** Lengths of "huge" strings: mostly kilobytes, sometimes megabytes (at most 4 MiB). */
export function hugeLength(rng: Rng): number {
  return rng.weighted([
    [40, 1_024],
    [30, 10_240],
    [18, 65_536],
    [9, 1_048_576],
    [3, 4 * 1_048_576],
  ]);
}

export function hugeString(rng: Rng, length = hugeLength(rng)): string {
  const unit = rng.pick(["a", "é", "🍕", "\\", '"', "\u0000", "ab\ncd", "\ud800"]);
  return unit.repeat(Math.max(1, Math.ceil(length / unit.length))).slice(0, length);
}

export function nastyString(rng: Rng): string {
  return rng.weighted<() => string>([
    [45, () => rng.pick(NASTY)],
    [30, () => rng.pick(UNICODE) + rng.pick(NASTY) + rng.pick(UNICODE)],
    [15, () => rng.hex(rng.between(1, 40))],
    [10, () => "x".repeat(rng.pick([129, 4_096, 4_097, 10_240]))],
  ])();
}

// ---------------------------------------------------------------------------------------------------
// Structured values

/** Sets `key` as an own enumerable property, `__proto__` included (plain assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Any JSON value, nested at most `depth` levels. */
export function anyValue(rng: Rng, depth = 3): unknown {
  const kinds: Array<readonly [number, () => unknown]> = [
    [10, () => null],
    [10, () => rng.chance(0.5)],
    [15, () => rng.pick(NUMBERS)],
    [20, () => nastyString(rng)],
    [3, () => hugeString(rng, rng.pick([1_024, 10_240]))],
  ];
  if (depth > 0) {
    kinds.push([12, () => Array.from({ length: rng.int(5) }, () => anyValue(rng, depth - 1))]);
    kinds.push([
      15,
      () => {
        const o: Record<string, unknown> = {};
        const n = rng.int(5);
        for (let i = 0; i < n; i++) setOwn(o, rng.chance(0.15) ? rng.pick(PROTO_NAMES) : rng.chance(0.5) ? rng.pick(["type", "id", "text", "data", "event", "sessionId"]) : nastyString(rng), anyValue(rng, depth - 1));
        return o;
      },
    ]);
  }
  return rng.weighted(kinds)();
}

/** Nested arrays/objects `levels` deep around a leaf, as JSON text (built as text: no recursion). */
export function deepText(levels: number, style: "array" | "object" | "mixed", leaf = "1"): string {
  if (style === "array") return "[".repeat(levels) + leaf + "]".repeat(levels);
  if (style === "object") return '{"a":'.repeat(levels) + leaf + "}".repeat(levels);
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < levels; i++) {
    if (i % 2 === 0) {
      open.push("[");
      close.push("]");
    } else {
      open.push('{"k":');
      close.push("}");
    }
  }
  return open.join("") + leaf + close.reverse().join("");
}

/**
 * Depths around the relay's limit (PIZZAPI_MAX_JSON_DEPTH, 64; `{}` is one level) and far beyond it. A
 * field nested `n` levels inside a top-level object makes the whole value `n + 1` deep.
 */
export const DEPTHS = [62, 63, 64, 65, 66, 100, 1_000, 10_000, 100_000];

export function deepField(rng: Rng): { text: string; levels: number } {
  const levels = rng.weighted([
    [14, 62],
    [14, 63],
    [14, 64],
    [10, 65],
    [6, 66],
    [10, 100],
    [14, 1_000],
    [12, 10_000],
    [6, 100_000],
  ]);
  return { text: deepText(levels, rng.pick(["array", "object", "mixed"] as const)), levels };
}

/** `{"k0":0,"k1":1,...}` with many keys, as JSON text. */
export function manyKeysText(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"k${i}":${i}`);
  return `{${parts.join(",")}}`;
}

// ---------------------------------------------------------------------------------------------------
// Field kinds of every client event (legacy frame = event payload + `type`)

export type Kind =
  | "str"
  | "text"
  | "bool"
  | "num"
  | "size"
  | "any"
  | "nullableStr"
  | "sessionId"
  | "token"
  | "runnerId"
  | "runnerSecret"
  | "terminalId"
  | "requestId"
  | "strings"
  | "skills"
  | "attachments"
  | "base64"
  | "cwd"
  | "seq"
  | "afterSeq"
  | "deliverAs"
  | "streamId"
  | "agentEvent"
  | "command";

export type Namespace = "/relay" | "/viewer" | "/hub" | "/runner" | "/terminal";
export const NAMESPACES: readonly Namespace[] = ["/relay", "/viewer", "/hub", "/runner", "/terminal"];
export type LegacyEndpoint = "cli" | "viewer" | "runner" | "terminal" | "hub";
export const LEGACY_ENDPOINTS: readonly LegacyEndpoint[] = ["cli", "viewer", "runner", "terminal", "hub"];
export const NAMESPACE_OF: Record<LegacyEndpoint, Namespace> = { cli: "/relay", viewer: "/viewer", runner: "/runner", terminal: "/terminal", hub: "/hub" };

const runnerSession = { runnerId: "runnerId", sessionId: "sessionId" } as const;
const terminalFrame = { terminalId: "terminalId", runnerId: "runnerId" } as const;

/**
 * The client events of every namespace with the kind of each field (docs/protocol.md; the legacy frames
 * are the same with `type`). fuzz.test.ts checks the event names against protocol/'s CLIENT_SCHEMAS.
 */
export const CLIENT_EVENTS: Record<Namespace, Record<string, Record<string, Kind>>> = {
  "/relay": {
    register: { sessionId: "sessionId", cwd: "cwd", ephemeral: "bool", collabMode: "bool", sessionName: "nullableStr", streamId: "streamId" },
    event: { sessionId: "sessionId", token: "token", event: "agentEvent", seq: "seq" },
    session_end: { sessionId: "sessionId", token: "token" },
    exec_result: { id: "str", ok: "bool", command: "command", result: "any", error: "str" },
  },
  "/viewer": {
    resync: {},
    catch_up: { afterSeq: "afterSeq" },
    connected: {},
    input: { text: "text", attachments: "attachments", client: "str", deliverAs: "deliverAs" },
    model_set: { provider: "str", modelId: "str" },
    exec: { id: "str", command: "command", level: "str" },
  },
  "/hub": {},
  "/runner": {
    register_runner: { runnerId: "runnerId", runnerSecret: "runnerSecret", name: "nullableStr", roots: "strings", skills: "skills" },
    session_ready: runnerSession,
    session_error: { ...runnerSession, message: "str" },
    session_killed: runnerSession,
    sessions_list: { runnerId: "runnerId", sessions: "strings" },
    skills_list: { runnerId: "runnerId", requestId: "requestId", skills: "skills" },
    skill_result: { runnerId: "runnerId", requestId: "requestId", ok: "bool", message: "str", skills: "skills", name: "str", content: "text" },
    runner_session_event: { sessionId: "sessionId", event: "agentEvent" },
    pong: { runnerId: "runnerId", now: "num" },
    terminals_list: { runnerId: "runnerId", terminals: "strings" },
    terminal_ready: terminalFrame,
    terminal_data: { ...terminalFrame, data: "base64" },
    terminal_exit: { ...terminalFrame, exitCode: "num" },
    terminal_error: { ...terminalFrame, message: "str" },
  },
  "/terminal": {
    terminal_resize: { cols: "size", rows: "size" },
    terminal_input: { data: "base64" },
    kill_terminal: {},
  },
};

/** Events the server sends (a client sending them is sending an unknown event). */
export const SERVER_EVENTS = [
  "registered",
  "event_ack",
  "error",
  "connected",
  "input",
  "model_set",
  "exec",
  "session_expired",
  "event",
  "synced",
  "exec_result",
  "disconnected",
  "sessions",
  "session_added",
  "session_removed",
  "session_status",
  "runner_registered",
  "new_session",
  "kill_session",
  "restart",
  "list_sessions",
  "ping",
  "new_terminal",
  "terminal_connected",
  "get_skill",
  "create_skill",
  "update_skill",
  "delete_skill",
  "list_terminals",
  "list_skills",
  "command",
];

/** Names Socket.IO or Node's EventEmitter treat specially. */
export const RESERVED_EVENTS = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error", "message", "ping", "pong", "open", "close", "packet"];

/** The fields of client event `name`: in `nsp` if it serves it, else in whichever namespace does (own keys only). */
export function fieldsOf(nsp: Namespace, name: string): Record<string, Kind> | undefined {
  const own = CLIENT_EVENTS[nsp];
  if (Object.hasOwn(own, name)) return own[name];
  return Object.values(CLIENT_EVENTS).find((events) => Object.hasOwn(events, name))?.[name];
}

const ALL_CLIENT_EVENTS = [...new Set(Object.values(CLIENT_EVENTS).flatMap((events) => Object.keys(events)))];

function sessionIdValue(rng: Rng, ids: FuzzIds): string {
  return rng.weighted<() => string>([
    [22, () => ids.conn.sessionId ?? ids.own.sessionId],
    [18, () => ids.own.sessionId],
    [8, () => ids.own.spawnedSessionId ?? ids.own.sessionId],
    [18, () => ids.victim.sessionId],
    [12, () => rng.uuid()],
    [6, () => "s".repeat(10_240)],
    [4, () => ` ${ids.own.sessionId} `],
    [4, () => ids.victim.sessionId.toUpperCase()],
    [8, () => nastyString(rng)],
  ])();
}

function runnerIdValue(rng: Rng, ids: FuzzIds): string {
  return rng.weighted<() => string>([
    [25, () => ids.conn.runnerId ?? ids.own.fuzzRunnerId],
    [15, () => ids.own.fuzzRunnerId],
    [8, () => ids.own.runnerId],
    [18, () => ids.victim.runnerId],
    [14, () => rng.uuid()],
    [6, () => "r".repeat(10_240)],
    [14, () => nastyString(rng)],
  ])();
}

function terminalIdValue(rng: Rng, ids: FuzzIds): string {
  return rng.weighted<() => string>([
    [25, () => ids.own.fuzzTerminalId ?? ids.own.terminalId],
    [15, () => ids.own.terminalId],
    [20, () => ids.victim.terminalId],
    [15, () => rng.uuid()],
    [6, () => "t".repeat(10_240)],
    [19, () => nastyString(rng)],
  ])();
}

function tokenValue(rng: Rng, ids: FuzzIds): string {
  return rng.weighted<() => string>([
    [40, () => ids.conn.token ?? ids.own.token],
    [12, () => ids.own.token],
    [18, () => ids.victim.token],
    [10, () => rng.hex(64)],
    [5, () => ""],
    [5, () => "0".repeat(10_240)],
    [10, () => nastyString(rng)],
  ])();
}

function agentEvent(rng: Rng): unknown {
  const thinkingContent = (): unknown[] =>
    Array.from({ length: rng.int(4) }, () =>
      rng.weighted<() => unknown>([
        [40, () => ({ type: "thinking", thinking: rng.chance(0.8) ? "hm" : anyValue(rng, 1) })],
        [25, () => ({ type: "text", text: nastyString(rng) })],
        [10, () => ({ type: "thinking", thinking: "x", durationSeconds: anyValue(rng, 0) })],
        [25, () => anyValue(rng, 1)],
      ])(),
    );
  const model = (): unknown => (rng.chance(0.6) ? { provider: nastyString(rng), id: nastyString(rng), name: nastyString(rng), reasoning: anyValue(rng, 0) } : anyValue(rng, 1));
  return rng.weighted<() => unknown>([
    [14, () => ({ type: "heartbeat", active: rng.chance(0.7) ? rng.chance(0.5) : anyValue(rng, 0), model: model(), sessionName: rng.chance(0.2) ? hugeString(rng, rng.pick([4_096, 4_097, 10_240])) : anyValue(rng, 0), ts: anyValue(rng, 0) })],
    [12, () => ({ type: "session_active", state: rng.chance(0.7) ? { messages: anyValue(rng, 2), model: model(), sessionName: anyValue(rng, 0), cwd: nastyString(rng) } : anyValue(rng, 2) })],
    [
      12,
      () => ({
        type: "message_update",
        message: anyValue(rng, 1),
        assistantMessageEvent: { type: rng.pick(["thinking_start", "thinking_end", "text_delta", "done", "error"]), contentIndex: rng.chance(0.6) ? rng.int(4) : anyValue(rng, 0) },
      }),
    ],
    [10, () => ({ type: "message_end", message: rng.chance(0.7) ? { role: rng.pick(["assistant", "user", "toolResult", 5]), content: rng.chance(0.8) ? thinkingContent() : anyValue(rng, 1) } : anyValue(rng, 1) })],
    [8, () => ({ type: "turn_end", message: { role: "assistant", content: thinkingContent() }, toolResults: anyValue(rng, 1) })],
    [5, () => ({ type: "agent_end", messages: anyValue(rng, 2) })],
    [5, () => ({ type: "tool_execution_start", toolName: rng.pick(["AskUserQuestion", "bash", 5]), toolCallId: anyValue(rng, 0), args: { question: anyValue(rng, 0) } })],
    [5, () => ({ type: "cli_error", message: anyValue(rng, 0), source: anyValue(rng, 0), ts: anyValue(rng, 0) })],
    [10, () => ({ type: rng.pick([...PROTO_NAMES, "capabilities", "todo_update", "model_set_result"]), x: anyValue(rng, 1) })],
    [9, () => anyValue(rng, 3)],
    [5, () => ({ type: "message_update", text: hugeString(rng) })],
    [5, () => undefined],
  ])();
}

function attachmentsValue(rng: Rng): unknown[] {
  return Array.from({ length: rng.int(5) }, () =>
    rng.weighted<() => unknown>([
      [40, () => ({ attachmentId: rng.chance(0.8) ? rng.hex(8) : anyValue(rng, 0), mediaType: "image/png", filename: nastyString(rng), url: rng.chance(0.3) ? "data:text/plain;base64,aGk=" : anyValue(rng, 0), size: 5 })],
      [20, () => ({ url: nastyString(rng), extra: anyValue(rng, 1) })],
      [40, () => anyValue(rng, 1)],
    ])(),
  );
}

function skillsValue(rng: Rng): unknown[] {
  return Array.from({ length: rng.int(5) }, () =>
    rng.weighted<() => unknown>([
      [50, () => ({ name: rng.chance(0.8) ? nastyString(rng) : anyValue(rng, 0), description: anyValue(rng, 0), filePath: anyValue(rng, 0) })],
      [50, () => anyValue(rng, 1)],
    ])(),
  );
}

/** A plausible (right-typed) value of a field kind, often naming someone else's or an unknown id. */
export function validValue(rng: Rng, kind: Kind, ids: FuzzIds): unknown {
  switch (kind) {
    case "str":
      return rng.chance(0.6) ? rng.pick(["x", "e1", "anthropic", "claude", "web", "set_thinking_level"]) : nastyString(rng);
    case "text":
      return rng.chance(0.7) ? rng.pick(["hello", "run the tests", ""]) : nastyString(rng);
    case "bool":
      return rng.chance(0.5);
    case "num":
      return rng.pick(NUMBERS);
    case "size":
      return rng.chance(0.7) ? rng.between(1, 300) : rng.pick([0, -1, 1.5, 65_536, 2 ** 31, 1e9, Number.MAX_VALUE]);
    case "any":
      return anyValue(rng);
    case "nullableStr":
      return rng.chance(0.3) ? null : nastyString(rng);
    case "sessionId":
      return sessionIdValue(rng, ids);
    case "token":
      return tokenValue(rng, ids);
    case "runnerId":
      return runnerIdValue(rng, ids);
    case "runnerSecret":
      return rng.weighted<() => string>([
        [50, () => ids.own.fuzzRunnerSecret],
        [15, () => ids.victim.runnerSecret],
        [15, () => rng.hex(32)],
        [20, () => nastyString(rng)],
      ])();
    case "terminalId":
      return terminalIdValue(rng, ids);
    case "requestId":
      return rng.chance(0.4) && ids.requestIds.length > 0 ? rng.pick(ids.requestIds) : rng.chance(0.5) ? rng.hex(18) : nastyString(rng);
    case "strings":
      return Array.from({ length: rng.int(4) }, () => (rng.chance(0.8) ? rng.pick(["/", "/home/fuzzer", "C:\\src\\", "/tmp/", ids.victim.sessionId]) : anyValue(rng, 0)));
    case "skills":
      return skillsValue(rng);
    case "attachments":
      return attachmentsValue(rng);
    case "base64":
      return rng.chance(0.7) ? Buffer.from(nastyString(rng)).toString("base64") : rng.pick(["!!!not base64!!!", "", "====", "bHMN"]);
    case "cwd":
      return rng.chance(0.6) ? rng.pick(["/home/fuzzer/proj", "/", "C:\\Users\\x", ""]) : rng.chance(0.3) ? "d".repeat(rng.pick([4_096, 4_097, 65_536])) : nastyString(rng);
    case "seq":
      return rng.chance(0.7) ? rng.between(0, 50) : rng.pick([-1, 0.5, 2 ** 53 + 2, Number.MAX_VALUE, -Number.MAX_VALUE, 1e21]);
    case "afterSeq":
      return rng.chance(0.7) ? rng.between(0, 20) : rng.pick([-1, 0.5, 2 ** 53, Number.MAX_VALUE]);
    case "deliverAs":
      return rng.pick(["steer", "followUp", "now", "", "__proto__"]);
    case "streamId":
      return rng.chance(0.6) ? rng.hex(16) : rng.pick(["", "s".repeat(128), "s".repeat(129), "\u0000"]);
    case "agentEvent":
      return agentEvent(rng);
    case "command":
      return rng.pick(["get_commands", "abort", "set_model", "end_session", "restart", "new_session", "nope", "", "__proto__"]);
  }
}

const ARRAY_KINDS: ReadonlySet<Kind> = new Set(["strings", "skills", "attachments"]);
const NUMBER_KINDS: ReadonlySet<Kind> = new Set(["num", "size", "seq", "afterSeq"]);
const STRING_KINDS: ReadonlySet<Kind> = new Set(["str", "text", "nullableStr", "sessionId", "token", "runnerId", "runnerSecret", "terminalId", "requestId", "base64", "cwd", "deliverAs", "streamId", "command"]);

/** A value of another type than the field takes. */
export function wrongTypeValue(rng: Rng, kind: Kind): unknown {
  const candidates: Array<() => unknown> = [];
  if (!STRING_KINDS.has(kind)) candidates.push(() => nastyString(rng), () => "1");
  if (!NUMBER_KINDS.has(kind)) candidates.push(() => rng.pick(NUMBERS));
  if (kind !== "bool") candidates.push(() => rng.chance(0.5), () => "true");
  if (!ARRAY_KINDS.has(kind)) candidates.push(() => [], () => [anyValue(rng, 1)], () => [[[["x"]]]]);
  candidates.push(() => null, () => ({}), () => ({ [rng.pick(["a", "id", "toString"])]: anyValue(rng, 1) }), () => ({ length: 3, 0: "a" }));
  if (ARRAY_KINDS.has(kind)) candidates.push(() => ({ 0: "x" }), () => "a,b");
  return rng.pick(candidates)();
}

/** A payload for `fields`: each field kept, dropped, of a wrong type, huge, or an edge value; extra keys sometimes. */
export function payloadFor(rng: Rng, fields: Record<string, Kind>, ids: FuzzIds, notes: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(fields)) {
    const mode = rng.weighted([
      [58, "valid"],
      [12, "missing"],
      [14, "wrongType"],
      [4, "huge"],
      [4, "deepish"],
      [8, "nasty"],
    ] as const);
    if (mode !== "valid") notes.push(`${name}:${mode}`);
    switch (mode) {
      case "valid":
        setOwn(out, name, validValue(rng, kind, ids));
        break;
      case "missing":
        break;
      case "wrongType":
        setOwn(out, name, wrongTypeValue(rng, kind));
        break;
      case "huge":
        setOwn(out, name, ARRAY_KINDS.has(kind) ? Array.from({ length: rng.pick([1_000, 10_000, 100_000]) }, (_, i) => (kind === "strings" ? `/r${i}` : { name: `n${i}` })) : hugeString(rng));
        break;
      case "deepish":
        // Nested values that stay inside the depth limit; the text layer adds the deep ones.
        setOwn(out, name, JSON.parse(deepText(rng.between(2, 40), "mixed", JSON.stringify(validValue(rng, kind, ids) ?? null))) as unknown);
        break;
      case "nasty":
        setOwn(out, name, nastyString(rng));
        break;
    }
  }
  if (rng.chance(0.2)) {
    const extras = rng.between(1, 4);
    for (let i = 0; i < extras; i++) {
      const key = rng.weighted<() => string>([
        [40, () => rng.pick(PROTO_NAMES)],
        [20, () => rng.pick(["type", "sessionId", "token", "runnerId", "terminalId", "userId", "generation", "seq", "ok"])],
        [30, () => nastyString(rng)],
        [10, () => "k".repeat(10_240)],
      ])();
      notes.push(`extra:${key.slice(0, 16)}`);
      setOwn(out, key, key === "userId" ? "victim" : anyValue(rng, 2));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Text-level mutations of a JSON text

/** Inserts `,"<key>":<valueText>` before the final `}` of an object text (or wraps a non-object). */
function insertField(text: string, key: string, valueText: string): string {
  const t = text.trimEnd();
  if (!t.endsWith("}")) return `{"v":${text},${JSON.stringify(key)}:${valueText}}`;
  const body = t.slice(0, -1);
  return `${body}${/\{\s*$/.test(body) ? "" : ","}${JSON.stringify(key)}:${valueText}}`;
}

/** Replaces the last `]` of an array text with `,<valueText>]`. */
function insertArgument(text: string, valueText: string): string {
  const t = text.trimEnd();
  if (!t.endsWith("]")) return text;
  return `${t.slice(0, -1)},${valueText}]`;
}

/** One malformation of a JSON text: truncation, bad bytes, odd numbers, duplicate keys, depth, many keys. */
export function mutateText(rng: Rng, text: string, container: "object" | "array", duplicateKey: string | null): { data: string | Buffer; note: string } {
  const add = (valueText: string): string => (container === "object" ? insertField(text, rng.pick(["x", "event", "data", "text", "__proto__"]), valueText) : insertArgument(text, valueText));
  const kind = rng.weighted([
    [14, "truncate"],
    [10, "invalid-utf8"],
    [12, "number-text"],
    [10, "duplicate-key"],
    [18, "deep"],
    [6, "many-keys"],
    [5, "huge-string"],
    [5, "bom"],
    [5, "trailing-garbage"],
    [5, "raw-control-chars"],
    [4, "single-quotes"],
    [3, "comment"],
    [3, "lone-surrogate-escape"],
  ] as const);
  switch (kind) {
    case "truncate": {
      const at = rng.int(Math.max(1, text.length));
      return { data: text.slice(0, at), note: `truncate@${at}` };
    }
    case "invalid-utf8": {
      const at = rng.int(text.length + 1);
      const bad = Buffer.from(rng.pick(INVALID_UTF8));
      return { data: Buffer.concat([Buffer.from(text.slice(0, at)), bad, Buffer.from(text.slice(at))]), note: `invalid-utf8@${at}:${bad.toString("hex")}` };
    }
    case "number-text": {
      const n = rng.pick(NUMBER_TEXTS);
      return { data: add(n), note: `number ${n}` };
    }
    case "duplicate-key": {
      if (container === "object" && duplicateKey !== null) {
        const other = rng.weighted<() => string>([
          [50, () => JSON.stringify(rng.pick(ALL_CLIENT_EVENTS))],
          [25, () => JSON.stringify(rng.pick(PROTO_NAMES))],
          [25, () => JSON.stringify(anyValue(rng, 1)) ?? "null"],
        ])();
        return { data: insertField(text, duplicateKey, other), note: `duplicate ${duplicateKey}=${other.slice(0, 30)}` };
      }
      return { data: add('{"a":1,"a":2,"__proto__":{"polluted":1},"__proto__":null}'), note: "duplicate keys inside" };
    }
    case "deep": {
      const { text: deep, levels } = deepField(rng);
      return { data: add(deep), note: `deep ${levels}+` };
    }
    case "many-keys": {
      const n = rng.pick([1_000, 10_000, 100_000]);
      return { data: add(manyKeysText(n)), note: `many-keys ${n}` };
    }
    case "huge-string": {
      const s = hugeString(rng);
      return { data: add(JSON.stringify(s)), note: `huge-string ${s.length}` };
    }
    case "bom":
      return { data: `\ufeff${text}`, note: "bom" };
    case "trailing-garbage": {
      const g = rng.pick([",", "}", "]]]", " trailing", "\u0000", "{}", "\n\n", "null"]);
      return { data: text + g, note: `trailing ${JSON.stringify(g)}` };
    }
    case "raw-control-chars":
      return { data: add('"a\u0001b\nc\td"'), note: "raw control chars" };
    case "single-quotes":
      return { data: text.replace(/"/g, "'"), note: "single quotes" };
    case "comment":
      return { data: add("/* c */ 1"), note: "comment" };
    case "lone-surrogate-escape":
      return { data: add('"\\ud800\\udbff\\u0000\\uZZZZ"'), note: "escapes" };
  }
}

// ---------------------------------------------------------------------------------------------------
// Legacy frames

/** The frame types each legacy endpoint serves (the hub serves none). */
export function legacyTypes(endpoint: LegacyEndpoint): string[] {
  const events = Object.keys(CLIENT_EVENTS[NAMESPACE_OF[endpoint]]);
  return endpoint === "viewer" ? events.filter((e) => e !== "catch_up") : events;
}

/** One frame for a legacy endpoint: mostly known types with mutated fields, plus every kind of garbage. */
export function legacyFrame(rng: Rng, endpoint: LegacyEndpoint, ids: FuzzIds): Wire {
  const ns = NAMESPACE_OF[endpoint];
  const own = legacyTypes(endpoint);
  const shape = rng.weighted([
    [60, "known"],
    [8, "foreign-type"],
    [8, "proto-type"],
    [6, "not-an-object"],
    [6, "bad-type-field"],
    [12, "malformed"],
  ] as const);
  const notes: string[] = [`legacy ${endpoint} ${shape}`];
  let frame: Record<string, unknown>;
  switch (shape) {
    case "known": {
      const type = own.length > 0 ? rng.pick(own) : rng.pick(ALL_CLIENT_EVENTS);
      notes.push(type);
      const fields = fieldsOf(ns, type) ?? {};
      frame = { type, ...payloadFor(rng, fields, ids, notes) };
      break;
    }
    case "foreign-type": {
      const type = rng.chance(0.5) ? rng.pick(ALL_CLIENT_EVENTS) : rng.pick(SERVER_EVENTS);
      notes.push(type);
      const fields = fieldsOf(ns, type) ?? {};
      frame = { type, ...payloadFor(rng, fields, ids, notes) };
      break;
    }
    case "proto-type": {
      const type = rng.pick(PROTO_NAMES);
      notes.push(type);
      frame = { type };
      if (rng.chance(0.5)) setOwn(frame, "__proto__", { polluted: true, type: "register" });
      if (rng.chance(0.5)) Object.assign(frame, payloadFor(rng, { sessionId: "sessionId", token: "token", terminalId: "terminalId" }, ids, notes));
      break;
    }
    case "not-an-object": {
      const text = rng.pick(["[]", '["register"]', '[{"type":"register"}]', "null", "0", "-0", "1e309", '"register"', "true", "false", '""', "[[[[[]]]]]"]);
      return wire(text, `${notes.join(" ")} ${text}`, rng.chance(0.1));
    }
    case "bad-type-field": {
      const type = rng.pick<unknown>([5, null, true, [], ["register"], { toString: "register" }, "", " register", "REGISTER", "register\u0000", undefined]);
      frame = {};
      if (type !== undefined) frame.type = type;
      Object.assign(frame, payloadFor(rng, { sessionId: "sessionId", token: "token" }, ids, notes));
      notes.push(`type=${JSON.stringify(type) ?? "absent"}`);
      break;
    }
    case "malformed": {
      const m = rng.weighted<() => { data: string | Buffer; note: string }>([
        [15, () => ({ data: "", note: "empty" })],
        [10, () => ({ data: "   \n\t ", note: "whitespace" })],
        [15, () => ({ data: rng.pick(["{oops", "{", "}", '{"type":', '{"type":"register"', "[", "nul", "tru", "\u0000"]), note: "broken" })],
        [15, () => ({ data: rng.bytes(rng.between(1, 64)), note: "random bytes" })],
        [10, () => ({ data: hugeString(rng), note: "huge non-JSON" })],
        [10, () => ({ data: `{"type":"${rng.pick(own.length > 0 ? own : ["x"])}","x":"${hugeString(rng)}`, note: "huge truncated" })],
        [15, () => ({ data: Buffer.from(rng.pick(INVALID_UTF8)), note: "invalid utf8" })],
        [10, () => ({ data: deepText(rng.pick(DEPTHS), rng.pick(["array", "object", "mixed"] as const)), note: "deep top-level" })],
      ])();
      return wire(m.data, `${notes.join(" ")} ${m.note}`, rng.chance(0.2));
    }
  }
  let data: string | Buffer = JSON.stringify(frame);
  if (rng.chance(0.25)) {
    const m = mutateText(rng, data, "object", "type");
    data = m.data;
    notes.push(m.note);
  }
  // A binary frame is read as UTF-8 text by the bridge (legacy section 0).
  const binary = rng.chance(0.08);
  if (binary) notes.push("binary");
  return wire(data, notes.join(" "), binary);
}

// ---------------------------------------------------------------------------------------------------
// Socket.IO / engine.io packets (the text of one WebSocket frame: engine type 4 = message)

/** The namespace part of a Socket.IO packet (`/relay,`). */
const nspPart = (nsp: string): string => (nsp === "/" ? "" : `${nsp},`);

export function ackIdText(rng: Rng): { text: string; note: string } {
  const text = rng.weighted<() => string>([
    [50, () => ""],
    [33, () => String(rng.between(0, 1_000))],
    [4, () => String(rng.pick([2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 1]))],
    [4, () => rng.pick(["99999999999999999999999999", "18446744073709551616", "1".repeat(400)])],
    [4, () => rng.pick(["-1", "-0", "-99999"])],
    [5, () => rng.pick(["007", "1.5", "1e3", "0x1"])],
  ])();
  return { text, note: text === "" ? "no-ack" : `ack=${text.slice(0, 24)}` };
}

function eventName(rng: Rng, nsp: Namespace): { json: string; note: string } {
  const own = Object.keys(CLIENT_EVENTS[nsp]);
  const name = rng.weighted<() => unknown>([
    [55, () => (own.length > 0 ? rng.pick(own) : rng.pick(ALL_CLIENT_EVENTS))],
    [8, () => rng.pick(ALL_CLIENT_EVENTS)],
    [4, () => rng.pick(SERVER_EVENTS)],
    [12, () => rng.pick(RESERVED_EVENTS)],
    [11, () => rng.pick(PROTO_NAMES)],
    [4, () => rng.pick([0, 42, -1, 1.5, 1e308])],
    [4, () => rng.pick(["", " ", "x".repeat(10_240), "event\u0000", "é🍕", "register "])],
    [2, () => rng.pick([null, true, {}, ["register"]])],
  ])();
  return { json: JSON.stringify(name), note: `name=${(JSON.stringify(name) ?? "").slice(0, 32)}` };
}

/** An EVENT packet for `nsp`: every event name (own, foreign, reserved, built-in), payloads of every shape. */
export function sioEvent(rng: Rng, nsp: Namespace, ids: FuzzIds, targetNsp: string = nsp): Wire {
  const { json: nameJson, note: nameNote } = eventName(rng, nsp);
  const ack = ackIdText(rng);
  const notes = [`sio ${nsp} event`, nameNote, ack.note];
  const name = JSON.parse(nameJson) as unknown;
  const fields = typeof name === "string" ? fieldsOf(nsp, name) : undefined;
  const args: unknown[] = [];
  const count = rng.weighted([
    [10, 0],
    [75, 1],
    [15, rng.between(2, 5)],
  ] as const);
  for (let i = 0; i < count; i++) {
    if (i === 0 && fields && rng.chance(0.85)) args.push(payloadFor(rng, fields, ids, notes));
    else args.push(rng.chance(0.5) ? wrongTypeValue(rng, "any") : anyValue(rng, 2));
  }
  let argsText = `[${[nameJson, ...args.map((a) => JSON.stringify(a) ?? "null")].join(",")}]`;
  let data: string | Buffer;
  if (rng.chance(0.22)) {
    // Mutate the payload object when there is one, else the argument array.
    if (count > 0 && typeof args[0] === "object" && args[0] !== null && !Array.isArray(args[0])) {
      const payloadText = JSON.stringify(args[0]);
      const m = mutateText(rng, payloadText, "object", fields ? (Object.keys(fields)[0] ?? null) : null);
      notes.push(`payload ${m.note}`);
      const rest = args.slice(1).map((a) => JSON.stringify(a) ?? "null");
      const head = `42${nspPart(targetNsp)}${ack.text}[${nameJson},`;
      const tail = `${rest.length > 0 ? "," + rest.join(",") : ""}]`;
      data = typeof m.data === "string" ? head + m.data + tail : Buffer.concat([Buffer.from(head), m.data, Buffer.from(tail)]);
    } else {
      const m = mutateText(rng, argsText, "array", null);
      notes.push(`args ${m.note}`);
      data = typeof m.data === "string" ? `42${nspPart(targetNsp)}${ack.text}${m.data}` : Buffer.concat([Buffer.from(`42${nspPart(targetNsp)}${ack.text}`), m.data]);
    }
  } else {
    if (rng.chance(0.03)) argsText = `[${nameJson}]`;
    data = `42${nspPart(targetNsp)}${ack.text}${argsText}`;
  }
  return wire(data, notes.join(" "));
}

/**
 * A BINARY_EVENT / BINARY_ACK whose attachments never come (or come wrong), then what follows it:
 * nothing, too few binary frames, placeholders out of range, a text packet in between, or a count the
 * parser refuses.
 */
export function sioBinaryPlaceholders(rng: Rng, nsp: string): Wire[] {
  const declared = rng.weighted<() => string>([
    [50, () => String(rng.between(1, 3))],
    [15, () => String(rng.pick([10, 11, 1_000, 2 ** 31]))],
    [15, () => rng.pick(["0", "-1", "1.5", "x", "", "01"])],
    [20, () => String(rng.between(1, 10))],
  ])();
  const num = rng.weighted<() => string>([
    [50, () => "0"],
    [30, () => rng.pick(["1", "5", "-1", "1.5", "99999999999"])],
    [20, () => rng.pick(['"0"', '"__proto__"', "null", "{}", "[]", '"toString"'])],
  ])();
  const type = rng.chance(0.8) ? 5 : 6;
  const ack = ackIdText(rng);
  const body = type === 5 ? `["${rng.pick(["event", "register", "terminal_data", "x", "__proto__"])}",{"_placeholder":true,"num":${num}},{"k":{"_placeholder":true,"num":${num}}}]` : `[{"_placeholder":true,"num":${num}}]`;
  const head = wire(`4${type}${declared}-${nspPart(nsp)}${type === 6 ? ack.text || "0" : ack.text}${body}`, `sio ${nsp} binary placeholders type=${type} attachments=${declared} num=${num} ${ack.note}`);
  const then = rng.weighted([
    [30, "nothing"],
    [25, "some-binary"],
    [20, "all-binary"],
    [15, "text-in-between"],
    [10, "binary-then-text"],
  ] as const);
  const n = Number(declared);
  const out: Wire[] = [head];
  const binaries = (count: number): void => {
    for (let i = 0; i < count; i++) out.push(wire(rng.bytes(rng.pick([0, 1, 16, 1_024])), "attachment bytes", true));
  };
  if (then === "some-binary") binaries(Number.isInteger(n) && n > 1 ? rng.between(1, Math.min(n - 1, 5)) : 1);
  if (then === "all-binary") binaries(Number.isInteger(n) && n > 0 && n <= 10 ? n : 2);
  if (then === "text-in-between") out.push(wire(`42${nspPart(nsp)}["event",{}]`, "text packet while reconstructing"));
  if (then === "binary-then-text") {
    binaries(1);
    out.push(wire(`42${nspPart(nsp)}["event",{}]`, "text packet while reconstructing"));
  }
  out[0] = { ...head, note: `${head.note} then ${then}` };
  return out;
}

/** Packets other than EVENT on an engine connection: acks, re-connects, disconnects, bad types, engine-level garbage. */
export function sioOtherPacket(rng: Rng, nsp: string, ids: FuzzIds, auth: () => Record<string, unknown>): Wire {
  return rng.weighted<() => Wire>([
    [12, () => wire(`43${nspPart(nsp)}${rng.pick(["0", "1", "42", "99999999999999999999", "-1", ""])}${JSON.stringify([anyValue(rng, 2)])}`, "unsolicited ACK")],
    [8, () => wire(`40${nspPart(nsp)}${JSON.stringify(auth())}`, "CONNECT again")],
    [6, () => wire(`41${nspPart(nsp)}`, "DISCONNECT")],
    [4, () => wire(`41${nspPart(nsp)}{"reason":"x"}`, "DISCONNECT with payload")],
    [6, () => wire(`44${nspPart(nsp)}${JSON.stringify({ message: "x", data: anyValue(rng, 1) })}`, "CONNECT_ERROR from client")],
    [6, () => wire(`4${rng.pick(["7", "8", "9", "a", "-", " ", ""])}${nspPart(nsp)}[]`, "unknown socket.io type")],
    [8, () => wire(`42${rng.pick(["/nope,", "/relay/x,", "//relay,", "/viewer,", "/hub,", "/,", "relay,", "/" + "n".repeat(5_000) + ","])}["event",{}]`, "EVENT to another namespace")],
    [10, () => wire(rng.pick(["0", "1", "2", "3", "2probe", "3probe", "5", "6", "7", "8", "", "4", "40", "4{}", "9"]), "engine packet")],
    [6, () => wire(`4${hugeString(rng, rng.pick([1_024, 65_536]))}`, "garbage message")],
    [6, () => wire(rng.bytes(rng.between(1, 256)), "binary frame outside reconstruction", true)],
    [6, () => wire(Buffer.concat([Buffer.from("42" + nspPart(nsp)), Buffer.from(rng.pick(INVALID_UTF8)), Buffer.from('["event"]')]), "invalid utf-8 text frame")],
    [6, () => wire(`42${nspPart(nsp)}${JSON.stringify(["event", { sessionId: ids.victim.sessionId }])}`.slice(0, rng.between(2, 20)), "truncated EVENT")],
    [6, () => wire(`42${nspPart(nsp)}${deepText(rng.pick(DEPTHS), "array", '"x"')}`, "deep argument array")],
    [5, () => wire(`42${nspPart(nsp)}{"0":"register","length":1}`, "array-like object args")],
  ])();
}

/** One generated frame for an open Socket.IO connection on `nsp` (mostly EVENTs). */
export function sioFrames(rng: Rng, nsp: Namespace, ids: FuzzIds, auth: () => Record<string, unknown>): Wire[] {
  return rng.weighted<() => Wire[]>([
    [80, () => [sioEvent(rng, nsp, ids)]],
    [7, () => sioBinaryPlaceholders(rng, nsp)],
    [13, () => [sioOtherPacket(rng, nsp, ids, auth)]],
  ])();
}

// ---------------------------------------------------------------------------------------------------
// Handshakes

/** protocolVersion of every type, the accepted ones included. */
export function protocolVersionValue(rng: Rng): { value: unknown; raw?: string } {
  return rng.weighted<() => { value: unknown; raw?: string }>([
    [12, () => ({ value: "1.0.0" })],
    [8, () => ({ value: 1 })],
    [6, () => ({ value: undefined })],
    [30, () => ({ value: rng.pick<unknown>([1.0, 2, 0, -1, 1.5, 2 ** 53, "1", "", "2.0.0", "^1.0.0", "1.0.0-rc.1", "1.999.999", "v1.0.0", "01.0.0", "1.0", " 1.0.0", null, true, false, [], ["1.0.0"], {}, { major: 1 }, { toString: "1.0.0" }, "__proto__"]) })],
    [6, () => ({ value: "1." + "9".repeat(400) + ".0" })],
    [6, () => ({ value: hugeString(rng, rng.pick([1_024, 65_536])) })],
    [6, () => ({ value: null, raw: rng.pick(NUMBER_TEXTS) })],
    [6, () => ({ value: null, raw: deepText(rng.pick(DEPTHS), "mixed", '"1.0.0"') })],
  ])();
}

export interface HandshakeKeys {
  /** The fuzzer's API key and login cookie value, the shared runner token. */
  apiKey: string;
  runnerToken: string;
}

/** A plausible auth for `nsp` (for authenticated connections): valid credentials, ids from `ids`. */
export function validAuth(rng: Rng, nsp: Namespace, ids: FuzzIds, keys: HandshakeKeys): { auth: Record<string, unknown>; note: string } {
  const version = rng.weighted<() => Record<string, unknown>>([
    [50, () => ({ protocolVersion: "1.0.0", clientVersion: "fuzz" })],
    [15, () => ({ protocolVersion: 1, clientVersion: rng.pick(["0.5.7", "0.6.0", "9.9.9", "x"]) })],
    [15, () => ({})],
    [20, () => ({ protocolVersion: "1.2.3" })],
  ])();
  const auth: Record<string, unknown> = { apiKey: keys.apiKey, ...version };
  let note = `auth ${nsp}`;
  if (nsp === "/viewer") {
    auth.sessionId = rng.weighted<() => string>([
      [60, () => ids.own.sessionId],
      [10, () => ids.own.spawnedSessionId ?? ids.own.sessionId],
      [15, () => ids.victim.sessionId],
      [15, () => rng.uuid()],
    ])();
    if (rng.chance(0.4)) auth.lastSeq = rng.pick([0, 1, 5, 1_000, 2 ** 53]);
    note += ` session=${String(auth.sessionId).slice(0, 8)}`;
  }
  if (nsp === "/terminal") {
    auth.terminalId = rng.weighted<() => string>([
      [60, () => ids.own.terminalId],
      [10, () => ids.own.fuzzTerminalId ?? ids.own.terminalId],
      [15, () => ids.victim.terminalId],
      [15, () => rng.uuid()],
    ])();
    note += ` terminal=${String(auth.terminalId).slice(0, 8)}`;
  }
  if (nsp === "/runner") {
    const how = rng.weighted([
      [55, "fuzz-runner"],
      [15, "fresh"],
      [10, "victim-id"],
      [10, "none"],
      [10, "runner-token"],
    ] as const);
    note += ` runner=${how}`;
    if (how === "fuzz-runner") Object.assign(auth, { runnerId: ids.own.fuzzRunnerId, runnerSecret: ids.own.fuzzRunnerSecret });
    if (how === "fresh") Object.assign(auth, { runnerId: `fuzz-${rng.hex(12)}`, runnerSecret: rng.hex(32) });
    if (how === "victim-id") Object.assign(auth, { runnerId: ids.victim.runnerId, runnerSecret: rng.hex(32) });
    if (how === "runner-token") {
      delete auth.apiKey;
      auth.runnerToken = keys.runnerToken;
    }
  }
  return { auth, note };
}

const GARBAGE_NAMESPACES = ["/", "/nope", "/relay/x", "//relay", "/relay?x=1", "/%00", "/RELAY", "/relay ", "/\u00e9", "/" + "n".repeat(10_240), "/__proto__", "/constructor", "relay", ""];

/**
 * A namespace CONNECT with garbage auth of every shape (with the fuzzer's key sometimes, so the garbage
 * gets past authentication into the schema and the generation routing).
 */
export function sioConnectGarbage(rng: Rng, ids: FuzzIds, keys: HandshakeKeys): { wire: Wire; nsp: string } {
  const nsp = rng.chance(0.75) ? rng.pick(NAMESPACES) : rng.pick(GARBAGE_NAMESPACES);
  const notes = [`sio CONNECT ${nsp.slice(0, 20)}`];
  const shape = rng.weighted([
    [10, "non-object"],
    [6, "absent"],
    [8, "broken-json"],
    [76, "object"],
  ] as const);
  notes.push(shape);
  let authText: string;
  if (shape === "non-object") authText = rng.pick(['"str"', "5", "null", "[]", '["apiKey"]', "true", "1e309", '""']);
  else if (shape === "absent") authText = "";
  else if (shape === "broken-json") authText = rng.pick(['{"apiKey":', "{", '{"apiKey":"x"', "{'apiKey':'x'}", '{"apiKey":"x"}}', "\u0000"]);
  else {
    const auth: Record<string, unknown> = {};
    const raws: Array<[string, string]> = [];
    const field = (name: string, gen: () => unknown): void => {
      const mode = rng.weighted([
        [45, "plausible"],
        [15, "missing"],
        [20, "wrongType"],
        [8, "huge"],
        [12, "nasty"],
      ] as const);
      if (mode !== "plausible") notes.push(`${name}:${mode}`);
      if (mode === "plausible") setOwn(auth, name, gen());
      if (mode === "wrongType") setOwn(auth, name, wrongTypeValue(rng, "str"));
      if (mode === "huge") setOwn(auth, name, hugeString(rng, rng.pick([1_024, 65_536, 1_048_576])));
      if (mode === "nasty") setOwn(auth, name, nastyString(rng));
    };
    field("apiKey", () => rng.weighted<() => string>([
      [35, () => keys.apiKey],
      [25, () => `pk_${rng.hex(40)}`],
      [10, () => keys.apiKey.slice(0, -1)],
      [10, () => ""],
      [20, () => nastyString(rng)],
    ])());
    const pv = protocolVersionValue(rng);
    if (pv.raw !== undefined) raws.push(["protocolVersion", pv.raw]);
    else if (pv.value !== undefined) auth.protocolVersion = pv.value;
    notes.push(`pv=${(pv.raw ?? JSON.stringify(pv.value) ?? "absent").slice(0, 24)}`);
    if (rng.chance(0.5)) field("clientVersion", () => rng.pick(["0.6.0", "0.5.7", "99.0.0", "c".repeat(128), "c".repeat(129), ""]));
    if (rng.chance(0.5)) field("sessionId", () => sessionIdValue(rng, ids));
    if (rng.chance(0.4)) field("terminalId", () => terminalIdValue(rng, ids));
    if (rng.chance(0.4)) field("runnerId", () => runnerIdValue(rng, ids));
    if (rng.chance(0.3)) field("runnerSecret", () => rng.pick([ids.own.fuzzRunnerSecret, ids.victim.runnerSecret, rng.hex(32)]));
    if (rng.chance(0.2)) field("runnerToken", () => rng.pick([keys.runnerToken, "x", ""]));
    if (rng.chance(0.3)) setOwn(auth, "lastSeq", rng.pick<unknown>([0, -1, 1.5, "1", null, 2 ** 53, Number.MAX_VALUE, [], {}]));
    if (rng.chance(0.15)) Object.assign(auth, { pid: rng.pick<unknown>([rng.hex(16), 5, null, {}, [], "__proto__"]), offset: rng.pick<unknown>([rng.hex(16), "0-0", 5, null, {}, "__proto__"]) });
    if (rng.chance(0.15)) setOwn(auth, rng.pick(PROTO_NAMES), rng.chance(0.5) ? { apiKey: keys.apiKey, polluted: true } : anyValue(rng, 1));
    authText = JSON.stringify(auth);
    for (const [k, v] of raws) authText = insertField(authText, k, v);
    if (rng.chance(0.15)) {
      const m = mutateText(rng, authText, "object", "apiKey");
      notes.push(m.note);
      return { wire: wire(typeof m.data === "string" ? `40${nspPart(nsp)}${m.data}` : Buffer.concat([Buffer.from(`40${nspPart(nsp)}`), m.data]), notes.join(" ")), nsp };
    }
  }
  return { wire: wire(`40${nspPart(nsp)}${authText}`, notes.join(" ")), nsp };
}

/** Engine.io handshake query strings, mostly wrong. */
export function engineQuery(rng: Rng): string {
  return rng.weighted<() => string>([
    [30, () => "EIO=4&transport=websocket"],
    [10, () => `EIO=${rng.pick(["3", "5", "", "x", "4.0", "-4", "04", "99999999999999999999"])}&transport=websocket`],
    [10, () => `EIO=4&transport=${rng.pick(["polling", "webtransport", "", "legacy-ws", "__proto__", "websocket,polling"])}`],
    [10, () => `EIO=4&transport=websocket&sid=${rng.pick([rng.hex(20), "", "x".repeat(1_024), "__proto__"])}`],
    [8, () => "transport=websocket"],
    [8, () => `EIO=4&EIO=3&transport=websocket&transport=polling`],
    [8, () => `EIO=4&transport=websocket&${"a".repeat(rng.pick([100, 8_000]))}=1`],
    [8, () => `EIO=4&transport=websocket&b64=1&j=${rng.pick(["0", "x", "constructor"])}`],
    [8, () => `%${rng.hex(1)}&EIO=4&transport=websocket`],
  ])();
}

/** Engine.io-level and Socket.IO-level garbage for a connection that never sent a valid CONNECT. */
export function engineGarbage(rng: Rng, ids: FuzzIds, keys: HandshakeKeys): Wire[] {
  return rng.weighted<() => Wire[]>([
    [20, () => [wire(rng.pick(["0", "1", "2", "3", "2probe", "5", "6", "7", "", "4", "9", "0{}", "1x", "3" + "p".repeat(1_000)]), "engine packet")]],
    [20, () => [sioEvent(rng, rng.pick(NAMESPACES), ids)]],
    [15, () => sioBinaryPlaceholders(rng, rng.pick(NAMESPACES))],
    [10, () => [wire(rng.bytes(rng.between(1, 512)), "binary frame", true)]],
    [10, () => [wire(Buffer.from(rng.pick(INVALID_UTF8)), "invalid utf-8 text")]],
    [10, () => [sioConnectGarbage(rng, ids, keys).wire]],
    [5, () => [wire(`4${hugeString(rng)}`, "huge message")]],
    [5, () => [wire(`40${deepText(rng.pick(DEPTHS), "object")}`, "deep root CONNECT")]],
    [5, () => [wire(`4${rng.pick(["0", "1", "2", "3", "4"])}/relay,`, "bare packet")]],
  ])();
}

/** An engine.io polling payload: packets joined by the record separator, with garbage. */
export function pollingPayload(rng: Rng, ids: FuzzIds, keys: HandshakeKeys): { body: string | Buffer; note: string } {
  return rng.weighted<() => { body: string | Buffer; note: string }>([
    [25, () => {
      const c = sioConnectGarbage(rng, ids, keys).wire;
      return { body: c.data, note: `polling ${c.note}` };
    }],
    [20, () => ({ body: Array.from({ length: rng.between(2, 20) }, () => rng.pick(["2", "3", "6", "40/relay,{}", "42/hub,[\"x\"]", "", "4", "b" + Buffer.from("x").toString("base64"), "bAAAA", "b!!!"])).join("\x1e"), note: "polling packets" })],
    [15, () => ({ body: "\x1e".repeat(rng.pick([1, 100, 10_000])), note: "separators" })],
    [15, () => ({ body: rng.bytes(rng.between(1, 2_048)), note: "random bytes" })],
    [10, () => ({ body: "4" + hugeString(rng, rng.pick([65_536, 1_048_576])), note: "huge packet" })],
    [10, () => ({ body: `b${"A".repeat(rng.pick([3, 5, 1_001]))}`, note: "bad base64" })],
    [5, () => ({ body: "", note: "empty" })],
  ])();
}

// ---------------------------------------------------------------------------------------------------
// Raw HTTP upgrade requests and raw WebSocket frames

export const LEGACY_PATHS_FOR_FUZZ = (rng: Rng, ids: FuzzIds): string =>
  rng.weighted<() => string>([
    [12, () => "/ws/sessions"],
    [12, () => `/ws/sessions/${rng.pick([ids.own.sessionId, ids.victim.sessionId, rng.uuid(), "", "s".repeat(10_240), "a/b", "%2F..%2F", "__proto__"])}`],
    [8, () => "/ws/runner"],
    [8, () => "/ws/hub"],
    [10, () => `/ws/terminal/${rng.pick([ids.own.terminalId, ids.victim.terminalId, rng.uuid(), "", "t".repeat(10_240), "constructor"])}`],
    [10, () => rng.pick(["/ws/", "/ws", "/ws/foo", "/ws/sessions/", "/ws/terminal/", "/ws/hub/", "/ws/runner/x", "/WS/hub", "/ws//hub", "/ws/hub?x=1", "/ws/hub#x", "/ws/%", "/ws/%zz", "/ws/sessions%2F"])],
    [12, () => `/socket.io/?${engineQuery(rng)}`],
    [6, () => rng.pick(["/socket.io", "/socket.io/", "/socket.io/x", "/socket.iox", "/SOCKET.IO/"])],
    [10, () => rng.pick(["/", "//", "/%", "*", "http://[::1", "/_tunnel", "/foo", "/healthz", "/api/sessions", "/metrics", "/..", "/\u00e9", "http://127.0.0.1/ws/hub", "ws://x/ws/hub", "/" + "p".repeat(64_000)])],
    [4, () => `/ws/sessions/${"\u0000\u0001"}`],
  ])();

/** A raw HTTP request (usually an upgrade) with garbage request line and headers, as bytes. */
export function rawHttpRequest(rng: Rng, ids: FuzzIds, keys: HandshakeKeys, host: string): { bytes: Buffer; note: string } {
  const notes: string[] = [];
  const method = rng.weighted<() => string>([
    [75, () => "GET"],
    [10, () => rng.pick(["POST", "PUT", "OPTIONS", "HEAD", "CONNECT", "DELETE"])],
    [10, () => rng.pick(["get", "G E T", "GET\u0000", "PRI", "X".repeat(100)])],
    [5, () => ""],
  ])();
  const target = LEGACY_PATHS_FOR_FUZZ(rng, ids);
  const version = rng.weighted<() => string>([
    [80, () => "HTTP/1.1"],
    [20, () => rng.pick(["HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1x", "", "HTTPS/1.1", "HTTP/1"])],
  ])();
  notes.push(`${method.slice(0, 8)} ${target.slice(0, 60)} ${version}`);
  const headers: string[] = [];
  const h = (line: string): void => void headers.push(line);
  if (rng.chance(0.9)) h(`Host: ${rng.chance(0.9) ? host : rng.pick(["", "evil.example", "[::1", "x".repeat(1_000)])}`);
  if (rng.chance(0.85)) h(`Connection: ${rng.pick(["Upgrade", "upgrade", "keep-alive, Upgrade", "close", "Upgrade, Upgrade", ""])}`);
  if (rng.chance(0.85)) h(`Upgrade: ${rng.pick(["websocket", "WebSocket", "h2c", "websocket, h2c", "", "websocket\u0000"])}`);
  if (rng.chance(0.8)) h(`Sec-WebSocket-Version: ${rng.pick(["13", "13", "13", "8", "", "x", "13, 8", "99999999999"])}`);
  if (rng.chance(0.8)) h(`Sec-WebSocket-Key: ${rng.pick(["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ==", "short", "", "!!!!!!!!!!!!!!!!!!!!!!!=", "A".repeat(1_000)])}`);
  const cred = rng.weighted([
    [25, "none"],
    [20, "valid-key"],
    [15, "wrong-key"],
    [8, "empty-key"],
    [8, "huge-key"],
    [6, "two-keys"],
    [10, "cookie"],
    [8, "bearer"],
  ] as const);
  notes.push(cred);
  if (cred === "valid-key") h(`x-api-key: ${keys.apiKey}`);
  if (cred === "wrong-key") h(`x-api-key: pk_${rng.hex(40)}`);
  if (cred === "empty-key") h("x-api-key: ");
  if (cred === "huge-key") h(`x-api-key: ${"k".repeat(rng.pick([8_000, 70_000]))}`);
  if (cred === "two-keys") {
    h(`x-api-key: ${keys.apiKey}`);
    h(`x-api-key: pk_${rng.hex(40)}`);
  }
  if (cred === "cookie") h(`Cookie: ${rng.pick(["pizzapi_session=" + rng.hex(64), "pizzapi_session=", "pizzapi_session", "a=b; pizzapi_session=%zz", "=;=;=", "pizzapi_session=" + "c".repeat(5_000)])}`);
  if (cred === "bearer") h(`Authorization: ${rng.pick(["Bearer " + keys.runnerToken, "Bearer ", "Bearer x", "Basic eDp5", "Bearer " + keys.runnerToken + "x"])}`);
  if (rng.chance(0.2)) h(`Origin: ${rng.pick(["http://evil.example", "null", "", "http://relay.test", "file://", "http://[::1"])}`);
  if (rng.chance(0.1)) h(`Sec-WebSocket-Extensions: ${rng.pick(["permessage-deflate", "permessage-deflate; client_max_window_bits=99", "x;;;", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"])}`);
  if (rng.chance(0.1)) h(`Sec-WebSocket-Protocol: ${rng.pick(["", "a, a", ",,,", "x".repeat(500)])}`);
  if (rng.chance(0.08)) h(`Content-Length: ${rng.pick(["5", "-1", "99999999999999999999", "x"])}`);
  if (rng.chance(0.06)) h("Transfer-Encoding: chunked");
  if (rng.chance(0.05)) h(`X-Bad: ${rng.pick(["a\u0000b", "a\u007fb", "\u00ff\u00fe"])}`);
  if (rng.chance(0.05)) h(" folded: continuation");
  if (rng.chance(0.04)) for (let i = 0; i < 200; i++) h(`X-Many-${i}: ${i}`);
  if (rng.chance(0.03)) h(`X-Huge: ${"h".repeat(20_000)}`);
  if (rng.chance(0.05)) h(rng.pick(["NoColon", ": empty name", "Bad Name: x"]));
  const eol = rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", "\n\r"]);
  const requestLine = [method, target, version].filter((part, i) => i === 1 || part !== "" || rng.chance(0.5)).join(" ");
  let text = `${requestLine}${eol}${headers.join(eol)}${eol}${eol}`;
  const ending = rng.weighted([
    [75, "complete"],
    [10, "truncated"],
    [10, "trailing-bytes"],
    [5, "no-final-blank-line"],
  ] as const);
  if (ending !== "complete") notes.push(ending);
  if (ending === "truncated") text = text.slice(0, rng.int(text.length));
  if (ending === "no-final-blank-line") text = text.slice(0, -eol.length);
  let bytes = Buffer.from(text, "latin1");
  if (ending === "trailing-bytes") bytes = Buffer.concat([bytes, rng.chance(0.5) ? rawWsFrames(rng).bytes : rng.bytes(rng.between(1, 256))]);
  return { bytes, note: notes.join(" ") };
}

/** A WebSocket frame with every field under the caller's control (lengths may lie). */
export function wsFrame(o: { fin: boolean; rsv: number; opcode: number; masked: boolean; payload: Buffer; claimedLength?: number | bigint }): Buffer {
  const len = o.claimedLength ?? o.payload.length;
  const head: number[] = [(o.fin ? 0x80 : 0) | ((o.rsv & 7) << 4) | (o.opcode & 0x0f)];
  const mask = o.masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (typeof len === "bigint" || len > 0xffff) {
    head.push(mask | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len));
  } else if (len > 125) {
    head.push(mask | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len);
  } else head.push(mask | len);
  if (!o.masked) return Buffer.concat([Buffer.from(head), ext, o.payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(o.payload.map((b, i) => b ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** One to five malformed (or odd but legal) WebSocket frames, as bytes on the TCP stream. */
export function rawWsFrames(rng: Rng): { bytes: Buffer; note: string } {
  const frames: Buffer[] = [];
  const notes: string[] = [];
  const count = rng.between(1, 5);
  for (let i = 0; i < count; i++) {
    const kind = rng.weighted([
      [14, "unmasked"],
      [10, "reserved-opcode"],
      [8, "rsv-bits"],
      [10, "huge-claimed-length"],
      [8, "oversized-control"],
      [8, "fragmented-control"],
      [8, "continuation-without-start"],
      [10, "bad-close"],
      [6, "invalid-utf8-text"],
      [8, "interleaved-fragments"],
      [10, "valid-json"],
    ] as const);
    notes.push(kind);
    const payload = (n: number): Buffer => rng.bytes(n);
    switch (kind) {
      case "unmasked":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: 1, masked: false, payload: Buffer.from('{"type":"register"}') }));
        break;
      case "reserved-opcode":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), masked: true, payload: payload(rng.between(0, 32)) }));
        break;
      case "rsv-bits":
        frames.push(wsFrame({ fin: true, rsv: rng.between(1, 7), opcode: 1, masked: true, payload: Buffer.from("{}") }));
        break;
      case "huge-claimed-length":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: rng.pick([1, 2]), masked: true, payload: payload(rng.between(0, 64)), claimedLength: rng.pick<number | bigint>([16 * 1024 * 1024 + 1, 2 ** 32, 2n ** 63n - 1n, 2n ** 64n - 1n, 70_000]) }));
        break;
      case "oversized-control":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: rng.pick([8, 9, 10]), masked: true, payload: payload(rng.between(126, 300)) }));
        break;
      case "fragmented-control":
        frames.push(wsFrame({ fin: false, rsv: 0, opcode: rng.pick([8, 9, 10]), masked: true, payload: payload(4) }));
        break;
      case "continuation-without-start":
        frames.push(wsFrame({ fin: rng.chance(0.5), rsv: 0, opcode: 0, masked: true, payload: Buffer.from("}") }));
        break;
      case "bad-close": {
        const code = rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 1000]);
        const reason = rng.chance(0.5) ? Buffer.from(rng.pick(INVALID_UTF8)) : Buffer.from("r".repeat(rng.pick([0, 10, 124])));
        const p = Buffer.alloc(2);
        p.writeUInt16BE(code);
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: 8, masked: true, payload: rng.chance(0.15) ? Buffer.from([0x03]) : Buffer.concat([p, reason]) }));
        break;
      }
      case "invalid-utf8-text":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.concat([Buffer.from('{"type":"'), Buffer.from(rng.pick(INVALID_UTF8)), Buffer.from('"}')]) }));
        break;
      case "interleaved-fragments":
        frames.push(wsFrame({ fin: false, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('{"type":') }));
        frames.push(wsFrame({ fin: false, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('"x"') }));
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: 0, masked: true, payload: Buffer.from("}") }));
        break;
      case "valid-json":
        frames.push(wsFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from(rng.pick(['{"type":"register"}', '{"type":"resync"}', "42/relay,[\"x\"]", "2", "40/hub,{}", "{}"])) }));
        break;
    }
  }
  return { bytes: Buffer.concat(frames), note: notes.join(",") };
}

/** Headers for a legacy upgrade that carry no valid credential (or a valid one on the wrong endpoint kind). */
export function badLegacyCredentials(rng: Rng, keys: HandshakeKeys): { headers: Record<string, string>; note: string } {
  return rng.weighted<() => { headers: Record<string, string>; note: string }>([
    [20, () => ({ headers: {}, note: "no credential" })],
    [20, () => ({ headers: { "x-api-key": `pk_${rng.hex(40)}` }, note: "unknown key" })],
    [8, () => ({ headers: { "x-api-key": keys.apiKey.slice(0, -2) }, note: "key prefix" })],
    [8, () => ({ headers: { "x-api-key": "k".repeat(rng.pick([1_024, 8_000])) }, note: "huge key" })],
    [12, () => ({ headers: { cookie: `pizzapi_session=${rng.hex(64)}` }, note: "unknown cookie" })],
    [6, () => ({ headers: { cookie: "pizzapi_session=%%%; pizzapi_session=x" }, note: "odd cookie" })],
    [10, () => ({ headers: { authorization: `Bearer ${rng.pick(["", "x", keys.runnerToken + "x", keys.apiKey])}` }, note: "bad bearer" })],
    [6, () => ({ headers: { authorization: `Bearer ${keys.runnerToken}` }, note: "runner token (valid on /ws/runner only)" })],
    [5, () => ({ headers: { "x-api-key": keys.apiKey, origin: "http://evil.example" }, note: "valid key, untrusted origin" })],
    [5, () => ({ headers: { "x-api-key": keys.apiKey }, note: "valid key" })],
  ])();
}
