/**
 * A runner daemon on the typed client. Run against a relay:
 *   PIZZAPI_API_KEY=<key> npx tsx examples/runner-client.ts [relay-url]
 * then `curl -X POST <relay>/api/runners/spawn -H "x-api-key: <key>" -d '{"runnerId":"<id>"}'`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { RunnerClient } from "../clients/socketio/runner-client.js";

const apiKey = process.env.PIZZAPI_API_KEY;
if (!apiKey) throw new Error("set PIZZAPI_API_KEY (npm run relay -- keys create --user alice)");

// #region readme
const runner = new RunnerClient({
  url: process.argv[2] ?? "http://localhost:3000",
  apiKey,
  // Keep both in a file: the relay binds the id to the secret (and to the key's user) for good.
  runnerId: process.env.PIZZAPI_RUNNER_ID ?? randomUUID(),
  runnerSecret: process.env.PIZZAPI_RUNNER_SECRET ?? randomBytes(32).toString("hex"),
  name: "devbox",
  roots: [process.cwd()],
  handlers: {
    // POST /api/runners/spawn lands here; the return value is the reply (a throw → session_error).
    new_session: async ({ sessionId, cwd }) => {
      console.log(JSON.stringify({ spawn: sessionId, cwd: cwd ?? process.cwd() }));
      return { ok: true };
    },
    get_skill: ({ name }) => ({ ok: false, message: `No skill named ${name}` }),
  },
});
runner.on("status", (status) => console.log(JSON.stringify({ status })));
runner.on("registered", ({ runnerId }) => console.log(JSON.stringify({ registered: runnerId })));
runner.on("error", (err) => console.error(`relay said ${err.code}: ${err.message}`));
// #endregion readme
process.on("SIGINT", () => runner.close());
process.on("SIGTERM", () => runner.close());
