import { RUNNER_BACKOFF } from "./backoff.js";
import { LegacySocket, type Frame } from "./socket.js";

export interface LegacyRunnerOptions {
  relayUrl: string;
  /** `x-api-key`; without it, `Authorization: Bearer <runnerToken>` (the old server token). */
  apiKey?: string;
  runnerToken?: string;
  /** Persistent identity from `~/.pizzapi/runner.json`; omit both for the older daemon generation. */
  runnerId?: string;
  runnerSecret?: string;
  name?: string;
  roots?: string[];
  skills?: Array<{ name: string; description: string; filePath: string }>;
  backoffScale?: number;
}

/**
 * The runner daemon's control channel (docs/legacy-protocol.md 4.1 and 10): `register_runner` on every open
 * with the same identity, the legacy backoff (1 s doubling to 60 s). Commands arrive as `frame`s; the
 * daemon's answers go out with `send`. `runnerId` holds what the relay assigned.
 */
export class LegacyRunnerClient extends LegacySocket {
  runnerId: string | null = null;

  constructor(private readonly runner: LegacyRunnerOptions) {
    const headers: Record<string, string> = runner.apiKey ? { "x-api-key": runner.apiKey } : { authorization: `Bearer ${runner.runnerToken ?? ""}` };
    super({ url: `${runner.relayUrl.replace(/\/+$/, "")}/ws/runner`, headers, backoff: RUNNER_BACKOFF, backoffScale: runner.backoffScale });
    this.on("open", () => {
      const identity = this.runner.runnerId && this.runner.runnerSecret ? { runnerId: this.runner.runnerId, runnerSecret: this.runner.runnerSecret } : {};
      this.send({ type: "register_runner", ...identity, name: this.runner.name ?? "runner", roots: this.runner.roots ?? [], skills: this.runner.skills ?? [] });
    });
    this.on("frame", (frame: Frame) => {
      if (frame.type === "runner_registered" && typeof frame.runnerId === "string") this.runnerId = frame.runnerId;
    });
  }
}
