import type { SettingsSchema } from "../config.js";

/**
 * The settings block of `start --help`, derived from the schemas that validate them (server/config.ts
 * and the plugins'), so the list cannot drift from what the relay reads: each variable, its default
 * when the schema has one, and its one-line meaning.
 */
export function settingsHelp(schemas: readonly SettingsSchema[]): string {
  const rows: Array<{ name: string; meaning: string }> = [];
  for (const schema of schemas) {
    for (const [name, field] of Object.entries(schema.shape)) {
      const fallback = field.safeParse(undefined);
      const shown = fallback.success && fallback.data !== undefined ? ` (default ${String(fallback.data)})` : "";
      rows.push({ name, meaning: `${field.description ?? ""}${shown}` });
    }
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `  ${r.name.padEnd(width)}  ${r.meaning}`);
  return ["", "Settings (environment variables; README.md, \"Configuration\", has the details):", ...lines, "", "An invalid value stops the command with exit code 2 and a message naming the variable."].join("\n");
}
