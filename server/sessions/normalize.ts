import type { Attachment, ModelSummary } from "../../protocol/index.js";
import { isRecord } from "./thinking.js";

/** Field handling of docs/legacy-protocol.md 2.1, 3.2 and 2.5, in one place for both stacks. */

export function normalizeSessionName(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : null;
}

/** Viewer input attachments: drop non-objects, keep only the four string fields, need an id or a url. */
export function normalizeAttachments(raw: unknown): Attachment[] {
  if (!Array.isArray(raw)) return [];
  const out: Attachment[] = [];
  for (const entry of raw) {
    if (!isRecord(entry)) continue;
    const attachment: Attachment = {};
    for (const key of ["attachmentId", "mediaType", "filename", "url"] as const) {
      const value = entry[key];
      if (typeof value === "string") attachment[key] = value;
    }
    if (!attachment.attachmentId && !attachment.url) continue;
    out.push(attachment);
  }
  return out;
}

export function normalizeDeliverAs(value: unknown): "steer" | "followUp" | undefined {
  return value === "steer" || value === "followUp" ? value : undefined;
}

/** The hub's view of a heartbeat's model: `{provider, id, name?}` (reasoning dropped). */
export function modelSummary(value: unknown): ModelSummary | null {
  if (!isRecord(value) || typeof value.provider !== "string" || typeof value.id !== "string") return null;
  const summary: ModelSummary = { provider: value.provider, id: value.id };
  if (typeof value.name === "string") summary.name = value.name;
  return summary;
}

export function modelKey(model: ModelSummary | null): string | null {
  return model ? `${model.provider}/${model.id}` : null;
}
