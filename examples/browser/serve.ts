/**
 * Serves the browser viewer example: the page and the client bundle (the one `npm run size` measures).
 *   PIZZAPI_TRUSTED_ORIGINS=http://localhost:5173 npm start        # the relay must trust the page's origin
 *   npx tsx examples/browser/serve.ts [port]                        # then open http://localhost:5173/
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { bundleBrowser } from "../../scripts/browser-bundle.js";

export async function startExampleServer(port: number, host = "localhost"): Promise<{ server: Server; url: string }> {
  const [page, bundle] = await Promise.all([readFile(new URL("viewer.html", import.meta.url), "utf8"), bundleBrowser()]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://example.test").pathname;
    if (path === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    else if (path === "/clients.js") res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(bundle.code);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startExampleServer(Number(process.argv[2] ?? 5173));
  console.log(`viewer example on ${url}/ (?relay=<relay url>&session=<id>&key=<api key> starts watching at once)`);
}
