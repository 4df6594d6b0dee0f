import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { instrument } from "@socket.io/admin-ui";
import type { Hono } from "hono";
import type { Namespace, Server } from "socket.io";
import { HandshakeError } from "../../protocol/index.js";
import { authenticate } from "../auth/authenticate.js";
import { authDeps } from "../auth/deps.js";
import { randomHex } from "../auth/secrets.js";
import type { TrustProxy } from "../http/client-address.js";
import { filesUnder, staticSite } from "../http/static-files.js";
import { commonNamespace, NAMESPACES, nodeSockets, type CommonSocket, type RelayIo } from "../io/typed.js";
import type { RelayContext } from "../sessions/context.js";
import { socketAddress } from "./connections.js";

/** Where the UI is served, and the Socket.IO namespace it connects to. */
export const ADMIN_UI_PATH = "/admin/socketio";
const ADMIN_NAMESPACE = "/admin";

/** A socket as the Admin UI lists it: no credentials, no session token, no request headers but two. */
interface ListedSocket {
  id: string;
  clientId: string;
  transport: string;
  nsp: string;
  data: Record<string, unknown>;
  handshake: { address: string; headers: Record<string, string>; query: Record<string, string>; issued: number; secure: boolean; time: string; url: string; xdomain: boolean };
  rooms: string[];
}

/** The events the relay itself sends the Admin UI (the rest comes from the package's `instrument`). */
interface AdminUiEvents {
  all_sockets: (sockets: ListedSocket[]) => void;
  socket_connected: (socket: ListedSocket, at: Date) => void;
  socket_disconnected: (nsp: string, id: string, reason: string, at: Date) => void;
}

/**
 * The Socket.IO Admin UI (docs/operations.md, "Socket.IO Admin UI"), when `PIZZAPI_ADMIN_UI=on`:
 * `@socket.io/admin-ui` instruments the node in production mode (aggregated traffic per server, no
 * per-event stream, no proxies around socket data), read-only, behind the admin credential (an admin
 * login cookie, or an admin API key as the UI's password). The relay lists this node's sockets to the UI
 * itself, sanitised: legacy sockets appear beside native ones with their transport (`legacy-ws`). The
 * UI's own files are served from the installed package, so it works without internet.
 */
export function mountAdminUi(ctx: RelayContext, io: RelayIo, app: Hono): void {
  // The third-party UI's namespace, outside the typed protocol: this is its one typed view.
  const admin = io.of(ADMIN_NAMESPACE) as unknown as Namespace<Record<never, never>, AdminUiEvents>;
  admin.use((socket, next) => {
    const auth = socket.handshake.auth as { password?: unknown };
    const headers = socket.handshake.headers;
    const creds = { apiKey: typeof auth.password === "string" ? auth.password : undefined, cookieHeader: headers.cookie, origin: headers.origin, host: headers.host };
    authenticate(authDeps(ctx), creds, ["api-key", "cookie"]).then(
      (caller) => {
        if (caller.admin) return next();
        ctx.log.info({ userId: caller.userId }, "admin UI refused: not an admin");
        next(new Error("invalid credentials"));
      },
      (err: unknown) => {
        if (!(err instanceof HandshakeError)) ctx.log.error({ err }, "admin UI authentication failed");
        // The UI shows its login form on exactly this message.
        next(new Error("invalid credentials"));
      },
    );
  });
  instrument(io as unknown as Server, { auth: false, mode: "production", readonly: true, namespaceName: ADMIN_NAMESPACE, serverId: ctx.config.nodeId });

  admin.on("connection", (socket) => socket.emit("all_sockets", listSockets(io, ctx.config.trustProxy)));
  for (const namespace of NAMESPACES) {
    commonNamespace(io, namespace).on("connection", (socket) => {
      if (admin.sockets.size > 0) admin.local.emit("socket_connected", listed(socket, namespace, ctx.config.trustProxy), new Date());
      socket.on("disconnect", (reason) => {
        if (admin.sockets.size > 0) admin.local.emit("socket_disconnected", namespace, socket.id, reason, new Date());
      });
    });
  }

  const dist = join(dirname(createRequire(import.meta.url).resolve("@socket.io/admin-ui/package.json")), "ui", "dist");
  const files = filesUnder(dist);
  files.set("relay-defaults.js", join(import.meta.dirname, "admin-ui-defaults.js"));
  app.route(
    ADMIN_UI_PATH,
    staticSite({
      files,
      index: "index.html",
      // The page links web fonts and icons from the internet: the relay serves it without them, and
      // presets the connection to this relay.
      rewrite: { "index.html": (html) => html.replace(/<link[^>]+href="https:\/\/[^"]*"[^>]*>/g, "").replace("<head>", '<head><script src="relay-defaults.js"></script>') },
      headers: { "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'" },
    }),
  );
  ctx.log.info({ path: `${ADMIN_UI_PATH}/` }, "Socket.IO Admin UI served");
}

/**
 * The UI groups a client's sockets (one engine connection, several namespaces) by an id; the engine's
 * own session id is a credential of polling clients and must not be shown: a random one per client.
 */
const clientIds = new WeakMap<object, string>();
function clientIdOf(client: object): string {
  let id = clientIds.get(client);
  if (!id) clientIds.set(client, (id = randomHex(6)));
  return id;
}

function listSockets(io: RelayIo, trust: TrustProxy): ListedSocket[] {
  return [...nodeSockets(io)].map(([namespace, socket]) => listed(socket, namespace, trust));
}

function listed(socket: CommonSocket, nsp: string, trust: TrustProxy): ListedSocket {
  const d = socket.data;
  const h = socket.handshake;
  return {
    id: socket.id,
    clientId: clientIdOf(socket.client),
    transport: socket.conn.transport.name,
    nsp,
    data: { userId: d.userId, generation: d.clientGeneration, clientVersion: d.clientVersion, protocolVersion: d.protocolVersion, ...(d.sessionId ? { sessionId: d.sessionId } : {}), ...(d.runnerId ? { runnerId: d.runnerId } : {}) },
    handshake: {
      address: socketAddress(socket, trust) ?? h.address,
      headers: { ...(h.headers.host ? { host: h.headers.host } : {}), ...(h.headers["user-agent"] ? { "user-agent": h.headers["user-agent"] } : {}) },
      query: {},
      issued: h.issued,
      secure: h.secure,
      time: h.time,
      url: h.url.split("?")[0] ?? "",
      xdomain: h.xdomain,
    },
    rooms: [...socket.rooms],
  };
}
