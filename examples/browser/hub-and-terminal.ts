/**
 * The hub and terminal browser clients as a page would use them (the README's "Browser" section); run by
 * test/e2e/browser-examples.test.ts against a relay. `relay` is `{ url }` in a page (its login cookie goes
 * along); `render` and `xterm` stand for the page's own UI (a session list, an xterm.js terminal).
 */
import { HubClient, TerminalClient, type BaseClientOptions, type HubSession } from "../../clients/browser/index.js";

/** The parts of an xterm.js terminal the example uses. */
export interface TerminalView {
  cols: number;
  rows: number;
  write(text: string): void;
  onData(listener: (keys: string) => void): void;
}

export function listSessions(relay: BaseClientOptions, render: (sessions: HubSession[]) => void): HubClient {
  // #region readme
  const hub = new HubClient(relay); // relay = { url: "https://relay.example.com" }
  hub.on("sessions", () => render([...hub.sessions.values()])); // also session_added / _removed / _status
  // #endregion readme
  return hub;
}

export function attachTerminal(relay: BaseClientOptions, terminalId: string, xterm: TerminalView): TerminalClient {
  // #region readme
  const term = new TerminalClient({ ...relay, terminalId });
  term.on("connected", () => term.resize(xterm.cols, xterm.rows)); // the first resize spawns the PTY
  term.on("data", ({ data }) => xterm.write(atob(data)));
  xterm.onData((keys) => term.write(btoa(keys)));
  // #endregion readme
  return term;
}
