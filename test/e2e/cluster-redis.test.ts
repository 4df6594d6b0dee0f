import { describeThreeNodes } from "./cluster-scenario.js";

describeThreeNodes("redis");
