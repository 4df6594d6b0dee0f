import { bundleBrowser, ENTRIES, forbiddenContent, GZIP_BUDGET_BYTES, type EntryName } from "./browser-bundle.js";

/**
 * `npm run size`: the gzipped size of the browser clients, socket.io-client included, against the
 * 25 KB goal. Each client alone, then the whole index (what an app importing all three ships). Exits
 * non-zero when over budget or when the bundle pulls in something it must not.
 */

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`;

let failed = false;
const rows: Array<[string, string, string]> = [];
let total = 0;
for (const name of Object.keys(ENTRIES) as EntryName[]) {
  const bundle = await bundleBrowser(ENTRIES[name]);
  const bad = forbiddenContent(bundle);
  if (bad.length > 0) {
    console.error(`${name}: forbidden content in the bundle: ${bad.join(", ")}`);
    failed = true;
  }
  rows.push([`${name} (${ENTRIES[name]})`, kb(bundle.rawBytes), kb(bundle.gzipBytes)]);
  if (name === "index") total = bundle.gzipBytes;
}

const width = Math.max(...rows.map((r) => r[0].length));
console.log(`${"entry".padEnd(width)}  ${"minified".padStart(10)}  ${"gzip -9".padStart(10)}`);
for (const [name, raw, gz] of rows) console.log(`${name.padEnd(width)}  ${raw.padStart(10)}  ${gz.padStart(10)}`);
const ratio = total / GZIP_BUDGET_BYTES;
console.log(`total (index: all clients + socket.io-client): ${kb(total)} gzipped of ${kb(GZIP_BUDGET_BYTES)} budget (${(ratio * 100).toFixed(1)} %)`);
if (ratio > 1) {
  console.error(`over budget by ${kb(total - GZIP_BUDGET_BYTES)}`);
  failed = true;
}
process.exitCode = failed ? 1 : 0;
