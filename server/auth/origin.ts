/**
 * Cookie-authenticated handshakes must come from a trusted Origin (docs/architecture.md section 6): Socket.IO's
 * `cors` option does not cover WebSocket upgrades, so a cross-site page could otherwise open a socket
 * with the victim's cookie (cross-site WebSocket hijacking).
 *
 * A request without an Origin header is accepted: browsers always send Origin on WebSocket upgrades and
 * on cross-origin requests, so a missing Origin means a non-browser client or a same-origin page.
 */
export function isTrustedOrigin(origin: string | undefined, trusted: readonly string[]): boolean {
  if (origin === undefined || origin === "") return true;
  const normalised = origin.trim().replace(/\/+$/, "");
  return trusted.includes(normalised);
}
