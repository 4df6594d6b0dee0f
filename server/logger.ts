import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Structured logs. Secrets never reach a line: every path that can carry an API key, a token or a
 * cookie is redacted, and the code logs identities (userId), never credentials.
 */
export const REDACT_PATHS = [
  "apiKey",
  "*.apiKey",
  "token",
  "*.token",
  "key",
  "*.key",
  "cookie",
  "*.cookie",
  "headers.cookie",
  "headers.authorization",
  'headers["x-api-key"]',
  "*.headers.cookie",
  "*.headers.authorization",
  '*.headers["x-api-key"]',
  "auth",
  "*.auth",
  "runnerSecret",
  "*.runnerSecret",
  "runnerToken",
  "*.runnerToken",
  "password",
  "*.password",
];

export function createLogger(options: { level: string; nodeId: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { node: options.nodeId },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    options.destination,
  );
}
