/**
 * Protocol constants with no dependencies, so browser bundles can import them without pulling in the
 * validation libraries (zod, semver) the rest of `protocol/` uses.
 */

/** Version of the typed Socket.IO protocol defined in this folder (semver). */
export const PROTOCOL_VERSION = "1.0.0";
