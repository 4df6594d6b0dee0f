import { createECDH, createDecipheriv, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { Agent, createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

/**
 * A stand-in Web Push service (RFC 8030) on 127.0.0.1, plus the browser side of a subscription:
 * keys, RFC 8291 payload decryption and RFC 8292 (VAPID) checks, all with node:crypto.
 *
 * web-push always speaks HTTPS (it uses `https.request` whatever the endpoint's scheme), so the stand-in
 * serves TLS with a self-signed certificate made here for 127.0.0.1; `agent` trusts exactly that one.
 */

export interface ReceivedPush {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface PushService {
  /** https://127.0.0.1:<port> */
  readonly origin: string;
  /** An HTTPS agent that trusts this service's certificate (and only it). */
  readonly agent: Agent;
  /** The certificate (PEM), for a relay process to trust through NODE_EXTRA_CA_CERTS. */
  readonly certificatePem: string;
  /** Every request received, in arrival order. */
  readonly received: ReceivedPush[];
  /** The endpoint URL of a (new) subscription named `name`. */
  endpoint(name: string): string;
  /** The status the endpoint answers from now on (default 201 Created). */
  respond(endpoint: string, status: number): void;
  /** The endpoint never answers (its requests stay open until the client gives up or close()). */
  hang(endpoint: string): void;
  /**
   * The next `count` requests are answered only once all `count` have arrived: a client sending them
   * one after the other (waiting for each answer) would stall, so this proves they were sent in parallel.
   */
  holdUntil(count: number): void;
  /** Requests received for one endpoint. */
  receivedBy(endpoint: string): ReceivedPush[];
  close(): Promise<void>;
}

export async function startPushService(): Promise<PushService> {
  const { key, cert } = selfSignedCertificate("127.0.0.1");
  const statuses = new Map<string, number>();
  const hanging = new Set<string>();
  const received: ReceivedPush[] = [];
  let held: { count: number; answers: Array<() => void> } | null = null;
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: { ...req.headers }, body: Buffer.concat(chunks) });
      if (hanging.has(path)) return;
      const answer = () => {
        res.statusCode = req.method === "POST" ? (statuses.get(path) ?? 201) : 405;
        res.end();
      };
      if (!held) return answer();
      held.answers.push(answer);
      if (held.answers.length < held.count) return;
      const answers = held.answers;
      held = null;
      for (const a of answers) a();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ ca: cert, keepAlive: false });
  const pathOf = (endpoint: string) => new URL(endpoint).pathname;
  return {
    certificatePem: cert,
    origin,
    agent,
    received,
    endpoint: (name) => `${origin}/push/${encodeURIComponent(name)}`,
    respond: (endpoint, status) => void statuses.set(pathOf(endpoint), status),
    hang: (endpoint) => void hanging.add(pathOf(endpoint)),
    holdUntil: (count) => void (held = { count, answers: [] }),
    receivedBy: (endpoint) => received.filter((r) => r.path === pathOf(endpoint)),
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The browser side of a subscription

export interface TestSubscriber {
  /** What the browser would POST to /api/push/subscriptions. */
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  /** RFC 8291 (aes128gcm) decryption of a push body with this subscriber's private key and auth secret. */
  decrypt(body: Buffer): Buffer;
}

/** A user agent's subscription: an ECDH P-256 key pair and a 16-byte auth secret. */
export function createSubscriber(endpoint: string): TestSubscriber {
  const ecdh = createECDH("prime256v1");
  const uaPublic = ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    subscription: { endpoint, keys: { p256dh: uaPublic.toString("base64url"), auth: authSecret.toString("base64url") } },
    decrypt(body) {
      // RFC 8188 header: salt(16) | rs(uint32) | idlen(1) | keyid(idlen) = the sender's ephemeral public key.
      const salt = body.subarray(0, 16);
      const rs = body.readUInt32BE(16);
      const idlen = body.readUInt8(20);
      const asPublic = body.subarray(21, 21 + idlen);
      const records = body.subarray(21 + idlen);
      if (idlen !== 65) throw new Error(`unexpected keyid length ${idlen}`);
      if (records.length > rs) throw new Error("more than one record: not expected for a small payload");
      // RFC 8291 section 3.4.
      const ecdhSecret = ecdh.computeSecret(asPublic);
      const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
      const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, authSecret, keyInfo, 32));
      const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
      const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
      const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
      decipher.setAuthTag(records.subarray(records.length - 16));
      const padded = Buffer.concat([decipher.update(records.subarray(0, records.length - 16)), decipher.final()]);
      // The last (only) record: data | 0x02 | zero padding.
      let end = padded.length - 1;
      while (end >= 0 && padded[end] === 0) end--;
      if (padded[end] !== 2) throw new Error("missing last-record delimiter");
      return padded.subarray(0, end);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// VAPID (RFC 8292)

export interface VapidClaims {
  aud: string;
  sub: string;
  exp: number;
}

/**
 * Checks `Authorization: vapid t=<JWT>, k=<public key>`: the key is `publicKey`, the JWT is ES256 and its
 * signature verifies with that key. Returns the JWT's claims (throws on any mismatch).
 */
export function verifyVapidAuthorization(header: string | undefined, publicKey: string): VapidClaims {
  const match = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (!match) throw new Error(`not a VAPID Authorization header: ${header}`);
  const [, jwt = "", k = ""] = match;
  if (k !== publicKey) throw new Error("k= is not the VAPID public key");
  const [head = "", claims = "", signature = ""] = jwt.split(".");
  const header64 = JSON.parse(Buffer.from(head, "base64url").toString("utf8")) as { alg?: string; typ?: string };
  if (header64.alg !== "ES256") throw new Error(`JWT alg is ${header64.alg}`);
  const ok = verify("sha256", Buffer.from(`${head}.${claims}`), { key: p256PublicKey(publicKey), dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"));
  if (!ok) throw new Error("JWT signature does not verify with the VAPID public key");
  return JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as VapidClaims;
}

/** A KeyObject of an uncompressed P-256 point (base64url, 65 bytes). */
function p256PublicKey(point64: string): KeyObject {
  const point = Buffer.from(point64, "base64url");
  if (point.length !== 65 || point[0] !== 4) throw new Error("not an uncompressed P-256 point");
  return createPublicKey({
    key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
    format: "jwk",
  });
}

// ---------------------------------------------------------------------------------------------------
// A self-signed X.509 certificate (ECDSA P-256, SAN = one IP address), DER built by hand

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...c: Buffer[]) => der(0x30, ...c);
const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
};
const utcTime = (d: Date) => der(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`));

function selfSignedCertificate(ip: string): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaWithSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const name = seq(der(0x31, seq(oid("2.5.4.3"), der(0x0c, Buffer.from(ip)))));
  const now = Date.now();
  const subjectAltName = seq(oid("2.5.29.17"), der(0x04, seq(der(0x87, Buffer.from(ip.split(".").map(Number))))));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, Buffer.concat([Buffer.from([1]), randomBytes(8)])),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 86_400_000))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    der(0xa3, seq(subjectAltName)),
  );
  const signature = sign("sha256", tbs, privateKey);
  const certDer = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.from([0]), signature));
  const pem = (label: string, body: Buffer) => `-----BEGIN ${label}-----\n${body.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;
  return { key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), cert: pem("CERTIFICATE", certDer) };
}
