// Preloaded into every server process a benchmark starts (`node --import bench/lib/probe.mjs ...`),
// relay and bare reference alike, so both are measured the same way from the inside: process CPU in
// microseconds, heap, garbage collections by kind, and read/write system calls. It answers `{probe: id}` messages on the IPC
// channel the bench opened (and does nothing without one). `{probe: id, gc: true}` first collects
// (when the process runs with --expose-gc), for idle-memory figures.
// Plain JavaScript: it is loaded by the built relay under bare `node`, with no TypeScript loader.
import { PerformanceObserver, constants, monitorEventLoopDelay } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";

/** Read and write system calls so far (Linux /proc/self/io; NaN elsewhere): each packet a socket writes is one. */
function syscalls() {
  try {
    const io = readFileSync("/proc/self/io", "utf8");
    const count = (name) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? NaN);
    return { reads: count("syscr"), writes: count("syscw") };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

if (typeof process.send === "function") {
  const gc = { minor: 0, major: 0, other: 0, ms: 0, maxPauseMs: 0 };
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      else gc.other++;
      gc.ms += entry.duration;
      gc.maxPauseMs = Math.max(gc.maxPauseMs, entry.duration);
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("message", (msg) => {
    if (typeof msg !== "object" || msg === null || typeof msg.probe !== "number") return;
    if (msg.gc === true && typeof globalThis.gc === "function") {
      globalThis.gc();
      globalThis.gc();
    }
    const mem = process.memoryUsage();
    const heap = getHeapStatistics();
    // The event loop's delay and the longest GC pause since the last `reset` (a measured window).
    const loop = { p99Ms: Math.max(0, lag.percentile(99) / 1e6 - 5), maxMs: Math.max(0, lag.max / 1e6 - 5) };
    process.send({ probe: msg.probe, cpuMicros: process.cpuUsage(), syscalls: syscalls(), rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: heap.total_heap_size, external: mem.external, gc: { ...gc }, loop });
    if (msg.reset === true) {
      lag.reset();
      gc.maxPauseMs = 0;
    }
  });
  // The channel must not keep a stopping server alive.
  process.channel?.unref();
}
