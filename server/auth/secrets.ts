import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

/** Random hex string of `bytes` bytes (API keys, login tokens and session tokens use 32: 64 hex chars). */
export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * SHA-256 of a secret, hex. Keys and tokens are 256-bit random values, so a fast hash is enough:
 * there is nothing to brute-force, and the stored hash is useless without the secret.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function newId(): string {
  return randomUUID();
}
