import type { MigrationStatus } from "../../migration/status.js";

/** Calls the migration admin API (`/api/admin/migration`) with an API key. */
export async function adminCall(url: string, key: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/admin/migration${path}`, {
    method,
    headers: { ...(key ? { "x-api-key": key } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Sets (or with null clears) a generation's mode; throws unless the relay took it. */
export async function setMode(url: string, key: string, generation: string, mode: string | null, sunset?: string): Promise<void> {
  const answer =
    mode === null ? await adminCall(url, key, "DELETE", `/modes/${generation}`) : await adminCall(url, key, "PUT", `/modes/${generation}`, { mode, ...(sunset ? { sunset } : {}) });
  if (answer.status !== 200) throw new Error(`mode ${generation} ${mode}: ${answer.status} ${JSON.stringify(answer.json)}`);
}

export async function migrationStatusOf(url: string, key: string, window?: string): Promise<MigrationStatus> {
  const answer = await adminCall(url, key, "GET", `/status${window ? `?window=${window}` : ""}`);
  if (answer.status !== 200) throw new Error(`status: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json as unknown as MigrationStatus;
}
