import type { RunnerSkill } from "../../protocol/index.js";

/** `register_runner` field handling (docs/legacy-protocol.md 4.1) and the workspace-root check of spawn. */

export function normalizeRunnerName(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : null;
}

/** String entries only; backslashes become `/`, a trailing `/` is removed. */
export function normalizeRoot(root: string): string {
  const slashed = root.replace(/\\/g, "/");
  return slashed.length > 1 ? slashed.replace(/\/+$/, "") : slashed;
}

export function normalizeRoots(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((r): r is string => typeof r === "string" && r.trim().length > 0).map(normalizeRoot);
}

export function normalizeSkills(value: unknown): RunnerSkill[] {
  if (!Array.isArray(value)) return [];
  const out: RunnerSkill[] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) continue;
    const { name, description, filePath } = entry as Record<string, unknown>;
    if (typeof name !== "string" || name.length === 0) continue;
    out.push({ name, description: typeof description === "string" ? description : "", filePath: typeof filePath === "string" ? filePath : "" });
  }
  return out;
}

/** True when the runner declares no roots, or `cwd` is one of them or inside one. */
export function isUnderRoots(cwd: string, roots: readonly string[]): boolean {
  if (roots.length === 0) return true;
  const path = normalizeRoot(cwd);
  if (path.split("/").includes("..")) return false;
  return roots.some((root) => path === root || path.startsWith(root === "/" ? "/" : `${root}/`));
}
