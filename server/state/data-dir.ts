import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../config.js";

/** What each file-system error means for an operator looking at PIZZAPI_DATA_DIR. */
const REASONS: Record<string, string> = {
  EROFS: "it is on a read-only file system",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a file is in the way (it, or a folder above it, is not a folder)",
  EEXIST: "a file is in the way (it is not a folder)",
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is exhausted",
};

/**
 * Embedded mode keeps its API key file in PIZZAPI_DATA_DIR: the folder is created if needed and must be
 * writable. Checked before anything starts, so an unusable folder is a configuration error naming the
 * variable and the path (exit 2), not a file-system stack trace at the first key written.
 */
export async function checkDataDir(dir: string): Promise<void> {
  const probe = join(dir, `.write-check.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(probe, "", { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    const reason = REASONS[code] ?? (err instanceof Error ? err.message : String(err));
    throw new ConfigError(`Invalid configuration: PIZZAPI_DATA_DIR: ${dir} is not a usable folder: ${reason}`);
  }
}
