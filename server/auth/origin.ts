/**
 * Cookie-authenticated handshakes must come from a trusted Origin (docs/architecture.md section 6): Socket.IO's
 * `cors` option does not cover WebSocket upgrades, so a cross-site page could otherwise open a socket
 * with the victim's cookie (cross-site WebSocket hijacking).
 *
 * A request without an Origin header is accepted: browsers always send Origin on WebSocket upgrades and
 * on cross-origin requests, so a missing Origin means a non-browser client or a same-origin page.
 */
export function isTrustedOrigin(origin: string | undefined, trusted: readonly string[], host?: string): boolean {
  if (origin === undefined || origin === "") return true;
  const normalised = origin.trim().replace(/\/+$/, "");
  return trusted.includes(normalised) || (host !== undefined && sameHost(normalised, host));
}

/** A page the relay served itself (the operator page) calls back to the same host: not cross-site. */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host.trim().toLowerCase();
  } catch {
    return false;
  }
}
