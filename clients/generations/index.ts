/** Test clients faithful to the Socket.IO CLI and runner generations in the field (docs/protocol.md). */
export {
  DEFAULT_CLIENT_VERSION,
  FIELD_RECONNECTION,
  FieldCli,
  fieldAuth,
  fieldSocketOptions,
  type CliGeneration,
  type ExecFrame,
  type ExecOutcome,
  type FieldCliOptions,
  type InputFrame,
  type ReceivedInput,
  type ReconnectionOptions,
  type Registered,
  type RelayError,
  type VersionedGeneration,
} from "./cli.js";
export { FieldRunner, type FieldRunnerOptions, type FieldSkill, type RunnerGeneration } from "./runner.js";
