import { describe, expect, it } from "vitest";
import { bundleBrowser, ENTRIES, forbiddenContent, GZIP_BUDGET_BYTES } from "../../scripts/browser-bundle.js";

/**
 * The browser bundle (`npm run size` builds the same): it builds for platform "browser", carries
 * socket.io-client, and nothing that must stay server-side (zod, semver, Node built-ins) reaches it.
 */
describe("browser bundle of clients/browser", () => {
  it("builds every entry without zod, semver or node: imports, within the gzip budget", async () => {
    for (const entry of Object.values(ENTRIES)) {
      const bundle = await bundleBrowser(entry);
      expect(forbiddenContent(bundle), entry).toEqual([]);
      expect(bundle.inputs.some((input) => input.includes("node_modules/socket.io-client/")), entry).toBe(true);
      expect(bundle.inputs.filter((input) => input.startsWith("protocol/")), entry).toEqual(["protocol/constants.ts"]);
      expect(bundle.gzipBytes, entry).toBeLessThanOrEqual(GZIP_BUDGET_BYTES);
    }
  });

  it("exports the three clients and the protocol version", async () => {
    const { code } = await bundleBrowser(ENTRIES.index, { minify: false });
    expect(code).toMatch(/export\s*\{[^}]*\bViewerClient\b[^}]*\}/);
    for (const name of ["HubClient", "TerminalClient", "PROTOCOL_VERSION", "RECONNECTION_DEFAULTS"]) expect(code).toContain(name);
    expect(code).not.toMatch(/\brequire\(/);
  });
});
