import { MemoryCensusStore } from "../../migration/census/memory-store.js";
import { MemoryModeStore } from "../../migration/mode-store.js";
import { describeMigrationContract } from "./migration.contract.js";

let clock = Date.now();
describeMigrationContract("memory", async () => {
  clock = Date.now();
  return {
    census: new MemoryCensusStore(() => clock),
    modes: new MemoryModeStore(),
    advance: async (ms) => void (clock += ms),
    now: () => clock,
  };
});
