import type { RelayConfig } from "../config.js";
import { ConfigError } from "../config.js";

/** What each error of binding a port means, for an operator. */
const REASONS: Record<string, string> = {
  EADDRINUSE: "the port is already in use",
  EADDRNOTAVAIL: "the address is not one of this machine's",
  EACCES: "permission denied (ports below 1024 need privileges)",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name does not resolve (DNS is not answering)",
};

/**
 * A node that cannot bind its port stops like any configuration error (exit 2), naming the variables
 * that chose the address: `PORT`/`PIZZAPI_HOST`, or `PIZZAPI_METRICS_PORT`/`PIZZAPI_METRICS_HOST` for the
 * metrics port. Anything else is returned as it came.
 */
export function explainListenError(err: unknown, config: RelayConfig): unknown {
  if (!(err instanceof Error)) return err;
  const { code, port } = err as NodeJS.ErrnoException & { port?: number };
  const reason = code !== undefined ? REASONS[code] : undefined;
  if (reason === undefined) return err;
  const metrics = config.metrics.port !== null && config.metrics.port !== 0 && port === config.metrics.port && port !== config.port;
  const [portVar, hostVar, host, shownPort] = metrics
    ? ["PIZZAPI_METRICS_PORT", "PIZZAPI_METRICS_HOST", config.metrics.host, config.metrics.port]
    : ["PORT", "PIZZAPI_HOST", config.host, config.port];
  return new ConfigError(`Invalid configuration: ${portVar}/${hostVar}: cannot listen on ${host}:${shownPort}: ${reason}`);
}
