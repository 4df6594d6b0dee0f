/**
 * A CLI publishing a session through the typed client. Run against a relay:
 *   PIZZAPI_API_KEY=<key> npx tsx examples/cli-client.ts [relay-url]
 */
import { RelayClient } from "../clients/socketio/cli-client.js";

const apiKey = process.env.PIZZAPI_API_KEY;
if (!apiKey) throw new Error("set PIZZAPI_API_KEY (npm run relay -- keys create --user alice)");

// #region readme
const cli = new RelayClient({ url: process.argv[2] ?? "http://localhost:3000", apiKey, session: { cwd: process.cwd(), sessionName: "example" } });
cli.on("status", (status) => console.log(JSON.stringify({ status })));
cli.on("registered", ({ sessionId, shareUrl }) => console.log(JSON.stringify({ registered: sessionId, shareUrl })));
cli.on("viewer_connected", () => cli.publish({ type: "session_active", state: { messages: [] } })); // a viewer wants fresh state
cli.on("input", ({ text }) => cli.publish({ type: "message_update", text: `you said: ${text}` })); // also model_set, exec
cli.startHeartbeat(10_000, () => ({ active: true }));
cli.start();

for (let n = 1; n <= 3; n++) cli.publish({ type: "message_update", n }); // never blocks, never lost
await cli.flushed(); // every event is stored by the relay (resent after reconnects, never twice)
console.log(JSON.stringify({ stats: cli.stats }));
await cli.end(); // ends the session for its viewers
// #endregion readme
