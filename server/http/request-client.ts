import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import { clientAddress, clientProtocol, type TrustProxy } from "./client-address.js";

/** The TCP peer of a REST request; undefined when the app is called without a socket (in-process tests). */
function peerOf(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** The client address of a REST request (server/http/client-address.ts decides it). */
export function requestAddress(c: Context, trust: TrustProxy): string | undefined {
  return clientAddress(trust, peerOf(c), c.req.header());
}

/** Whether the client reached the relay over https (a trusted proxy's X-Forwarded-Proto). */
export function requestProtocol(c: Context, trust: TrustProxy): "http" | "https" {
  return clientProtocol(trust, peerOf(c), c.req.header());
}
