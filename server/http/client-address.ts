import { BlockList, isIP } from "node:net";

/**
 * Which connecting peers are reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` the relay
 * believes (`PIZZAPI_TRUST_PROXY`, README "Configuration"):
 * - `off`: none; the client is the TCP peer.
 * - `on`: the TCP peer, whatever its address, is one proxy: the client is the last X-Forwarded-For hop.
 * - `list`: these addresses and subnets are proxies; the client is the nearest hop not among them.
 */
export type TrustProxy = { kind: "off" } | { kind: "on" } | { kind: "list"; entries: readonly string[] };

/** Request headers as Node.js, engine.io and the upgrade path hand them over. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** At most this many X-Forwarded-For hops are looked at: the header is the client's to inflate. */
const MAX_HOPS = 32;

/**
 * Parses `PIZZAPI_TRUST_PROXY`: `off` (also `false`, `0`), `on` (`true`, `1`), or a comma list of IP
 * addresses and CIDR subnets (`10.0.0.0/8`, `::1`). Returns an error message for anything else.
 */
export function parseTrustProxy(text: string | undefined): TrustProxy | string {
  const value = (text ?? "off").trim().toLowerCase();
  if (["", "off", "false", "0"].includes(value)) return { kind: "off" };
  if (["on", "true", "1"].includes(value)) return { kind: "on" };
  const entries = value.split(",").map((e) => e.trim()).filter((e) => e.length > 0);
  const bad = entries.filter((e) => !isSubnet(e));
  if (bad.length > 0) return `expected off, on, or a comma list of IP addresses and subnets (a.b.c.d/n); not an address: ${bad.slice(0, 3).join(", ")}`;
  return { kind: "list", entries };
}

/**
 * The client address of a request: the one function that decides it (logs of REST calls, connections
 * and refusals). Without a trusted proxy it is the TCP peer; behind one, it is read from
 * X-Forwarded-For, right to left, skipping the trusted hops. A hop that is not an IP address ends the
 * walk at the last trusted one.
 */
export function clientAddress(trust: TrustProxy, peer: string | undefined, headers: HeaderBag): string | undefined {
  let address = normalise(peer);
  if (address === undefined || !isTrusted(trust, address, true)) return address;
  const hops = headerValues(headers["x-forwarded-for"]).slice(-MAX_HOPS).reverse();
  for (const hop of hops) {
    const next = normalise(hop);
    if (next === undefined || isIP(next) === 0) return address;
    address = next;
    // `on` trusts the TCP peer only: its (last) X-Forwarded-For entry is the client.
    if (!isTrusted(trust, address, false)) return address;
  }
  return address;
}

/** `https` or `http` as the client used it: X-Forwarded-Proto of a trusted proxy, else plain `http`. */
export function clientProtocol(trust: TrustProxy, peer: string | undefined, headers: HeaderBag): "http" | "https" {
  const address = normalise(peer);
  if (address === undefined || !isTrusted(trust, address, true)) return "http";
  const proto = headerValues(headers["x-forwarded-proto"]).at(-1)?.toLowerCase();
  return proto === "https" ? "https" : "http";
}

function isTrusted(trust: TrustProxy, address: string, isPeer: boolean): boolean {
  if (trust.kind === "off") return false;
  if (trust.kind === "on") return isPeer;
  const family = isIP(address);
  return family !== 0 && blockListOf(trust).check(address, family === 4 ? "ipv4" : "ipv6");
}

const lists = new WeakMap<TrustProxy, BlockList>();

function blockListOf(trust: { kind: "list"; entries: readonly string[] }): BlockList {
  let list = lists.get(trust);
  if (!list) {
    list = new BlockList();
    for (const entry of trust.entries) {
      const [address = "", prefix] = entry.split("/");
      const family = isIP(address) === 4 ? "ipv4" : "ipv6";
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
    lists.set(trust, list);
  }
  return list;
}

function isSubnet(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Every comma-separated value of a header that may be repeated. */
function headerValues(value: string | string[] | undefined): string[] {
  const joined = Array.isArray(value) ? value.join(",") : (value ?? "");
  return joined
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** An IPv4 peer of a dual-stack socket reads `::ffff:a.b.c.d`: logged and compared as `a.b.c.d`. */
function normalise(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return v4?.[1] ?? address;
}
