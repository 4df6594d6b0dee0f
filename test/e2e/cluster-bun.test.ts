import { describeThreeNodes } from "./cluster-scenario.js";

// One node of the three runs under Bun (the `bun` npm package): mixed runtimes share rooms and state.
describeThreeNodes("redis-streams", ["node", "bun", "node"]);
