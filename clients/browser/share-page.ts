/**
 * The script of the page behind a shareUrl (server/http/share-page/index.html), bundled with the
 * browser clients. Asks for an API key once (kept in localStorage), logs in (`POST /api/auth/session`,
 * which sets the login cookie), then watches the session and renders one line per event. The input box
 * sends `input`; the relay refuses it when the session's collab mode is off (docs/protocol.md, `/viewer`),
 * which then hides the box.
 */
import { RelayError } from "./shared.js";
import { ViewerClient, type ViewerEvent } from "./viewer.js";

const KEY_STORAGE = "pizzapi.apiKey";

/** What a line shows of one agent event (docs/legacy-protocol.md, the agent events): all optional. */
export interface EventLine {
  type: string;
  role?: string;
  text?: string;
  tools?: string[];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The text parts and tool calls of a message's `content` (a string or an array of parts). */
function contentOf(content: unknown): { text: string[]; tools: string[] } {
  if (typeof content === "string") return { text: [content], tools: [] };
  const text: string[] = [];
  const tools: string[] = [];
  for (const part of Array.isArray(content) ? content : []) {
    const p = record(part);
    if (p?.type === "text" && typeof p.text === "string") text.push(p.text);
    if (p?.type === "toolCall" && typeof p.name === "string") tools.push(p.name);
  }
  return { text, tools };
}

export function describeEvent(event: unknown): EventLine {
  const e = record(event) ?? {};
  const line: EventLine = { type: typeof e.type === "string" ? e.type : "event" };
  const message = record(e.message);
  const tools: string[] = [];
  const text: string[] = [];
  if (message) {
    if (typeof message.role === "string") line.role = message.role;
    const content = contentOf(message.content);
    text.push(...content.text);
    tools.push(...content.tools);
  }
  // `session_active {state}` (the CLI's fresh state): its conversation, one line per message.
  const messages = record(e.state)?.messages;
  for (const m of Array.isArray(messages) ? messages : []) {
    const content = contentOf(record(m)?.content);
    const role = record(m)?.role;
    text.push(`${typeof role === "string" ? `${role}: ` : ""}${content.text.join(" ")}`);
    tools.push(...content.tools);
  }
  if (typeof e.text === "string") text.push(e.text);
  if (typeof e.toolName === "string") tools.push(e.toolName);
  if (text.length > 0) line.text = text.join("\n");
  if (tools.length > 0) line.tools = tools;
  return line;
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function render({ event, snapshot }: ViewerEvent): HTMLLIElement {
  const line = describeEvent(event);
  const item = document.createElement("li");
  item.className = snapshot ? "state" : line.tools ? "tool" : (line.role ?? "");
  const type = document.createElement("span");
  type.className = "type";
  type.textContent = (snapshot ? "[state] " : "") + line.type + (line.role ? ` (${line.role})` : "");
  item.append(type);
  if (line.tools) item.append(`tool: ${line.tools.join(", ")}${line.text ? "\n" : ""}`);
  if (line.text) item.append(line.text);
  return item;
}

async function login(key: string): Promise<string | null> {
  const res = await fetch("/api/auth/session", { method: "POST", headers: { "x-api-key": key }, credentials: "same-origin" });
  if (res.ok) return null;
  const body = (await res.json().catch(() => ({}))) as { error?: unknown };
  return typeof body.error === "string" ? body.error : `login failed (${res.status})`;
}

function watch(sessionId: string): ViewerClient {
  const status = element("status");
  const events = element<HTMLOListElement>("events");
  const input = element<HTMLFormElement>("input");
  const text = element<HTMLInputElement>("text");
  const note = element("input-note");
  // lastSeq 0: the relay replays the session's whole log while it still reaches back, else it sends the
  // snapshot (docs/protocol.md, `/viewer`).
  const viewer = new ViewerClient({ url: location.origin, sessionId, lastSeq: 0 });
  viewer.on("status", (s) => (status.textContent = s.state + ("reason" in s && s.reason ? ` (${s.reason})` : "")));
  viewer.on("connected", (info) => (input.hidden = info.replayOnly === true || note.dataset.collab === "off"));
  viewer.on("snapshot", () => events.replaceChildren());
  viewer.on("event", (e) => events.append(render(e)));
  viewer.on("ended", (reason) => {
    status.textContent = `ended: ${reason}`;
    input.hidden = true;
  });
  viewer.on("error", (error) => (status.textContent = `${error.code}: ${error.message}`));
  input.onsubmit = (e) => {
    e.preventDefault();
    viewer.sendInput(text.value).then(
      () => ((text.value = ""), (note.hidden = true)),
      (err: unknown) => {
        const off = err instanceof RelayError && err.code === "forbidden";
        if (off) {
          note.dataset.collab = "off";
          input.hidden = true;
        }
        note.textContent = off ? "Collab mode is off for this session: watching only." : `not sent: ${err instanceof Error ? err.message : String(err)}`;
        note.hidden = false;
      },
    );
  };
  return viewer;
}

function start(): void {
  const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
  const form = element<HTMLFormElement>("login");
  const keyInput = element<HTMLInputElement>("key");
  const problem = element("login-error");
  const begin = async (key: string): Promise<void> => {
    const error = await login(key);
    if (error) {
      localStorage.removeItem(KEY_STORAGE);
      problem.textContent = error;
      problem.hidden = false;
      form.hidden = false;
      element("status").textContent = "log in to watch";
      return;
    }
    localStorage.setItem(KEY_STORAGE, key);
    form.hidden = problem.hidden = true;
    watch(sessionId);
  };
  form.onsubmit = (e) => {
    e.preventDefault();
    void begin(keyInput.value.trim());
  };
  const saved = localStorage.getItem(KEY_STORAGE);
  if (saved) void begin(saved);
  else {
    form.hidden = false;
    element("status").textContent = "log in to watch";
  }
}

if (typeof document !== "undefined") start();
