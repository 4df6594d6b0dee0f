/**
 * The reference of bench/throughput.ts: a bare Socket.IO server that does only the fan-out the relay's
 * event path does, nothing else. A CLI connects to `/relay` with `auth.sessionId` and emits
 * `event {seq, event}`; the server emits `event {event, seq, publishedAt}` to the session's room on
 * `/viewer`, whose sockets joined it from `auth.sessionId` and were sent `connected`. No state, no
 * acks, no validation, no recovery: the floor the relay's cost per event is compared with.
 *
 * Run: `node --import tsx bench/lib/bare-server.ts` with PORT (and REDIS_URL for the redis-streams
 * adapter, as the relay's cluster default). Prints "listening" on stdout once it accepts connections.
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? "0");
const redisUrl = process.env.REDIS_URL;

async function adapterOption(): Promise<Record<string, unknown>> {
  if (!redisUrl) return {};
  const client = createClient({ url: redisUrl, RESP: 2 });
  await client.connect();
  return { adapter: createAdapter(client, { streamName: `bare:${process.env.REDIS_PREFIX ?? ""}sio` }) };
}

const http = createServer();
const io = new Server(http, { ...(await adapterOption()), pingInterval: 30_000, pingTimeout: 60_000 });
const viewers = io.of("/viewer");
const sessionOf = (auth: Record<string, unknown>): string => (typeof auth.sessionId === "string" ? auth.sessionId : "");

io.of("/relay").on("connection", (socket) => {
  const room = `session:${sessionOf(socket.handshake.auth)}`;
  socket.on("event", (frame: { seq?: number; event?: unknown }) => {
    viewers.to(room).emit("event", { event: frame.event, seq: frame.seq, publishedAt: Date.now() });
  });
});
viewers.on("connection", (socket) => {
  void socket.join(`session:${sessionOf(socket.handshake.auth)}`);
  socket.emit("connected", { sessionId: sessionOf(socket.handshake.auth), lastSeq: 0 });
});
http.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
// A graceful exit on SIGTERM, as the relay's: a V8 CPU profile (--cpu-prof) is written only then.
process.once("SIGTERM", () => process.exit(0));
