import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryState } from "../../server/state/memory.js";
import { describeStateContract } from "./state.contract.js";

describeStateContract("memory", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "pizzapi-state-"));
  const state = createMemoryState({ dataDir });
  return {
    state,
    // Only API keys reach the disk in the embedded mode: the dump is every file of the data dir.
    dump: async () => {
      const names = await readdir(dataDir);
      const texts = await Promise.all(names.map((name) => readFile(join(dataDir, name), "utf8")));
      return [...names, ...texts].join("\n");
    },
    teardown: async () => {
      await state.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
