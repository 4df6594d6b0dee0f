import { describeThreeNodes } from "./cluster-scenario.js";

// Not required by the foundation issue, but a documented setting: hold it to the same scenario.
describeThreeNodes("redis-sharded");
