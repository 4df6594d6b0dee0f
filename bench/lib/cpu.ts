import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU accounting from Linux /proc, so a run can tell whether the machine (or one process, the bench
 * client included) was saturated during the measured window. Elsewhere every reading is null.
 */

const TICKS_PER_SECOND = 100; // USER_HZ (getconf CLK_TCK) on Linux

export interface CpuSample {
  at: number;
  machine: { busy: number; total: number } | null;
  /** utime + stime in ticks, by label. */
  procs: Record<string, number | null>;
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function procTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after "(comm)": state is index 0, utime is field 14 of stat → index 11 here, stime 12.
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

export function sampleCpu(pids: Record<string, number>): CpuSample {
  const procs: Record<string, number | null> = {};
  for (const [label, pid] of Object.entries(pids)) procs[label] = procTicks(pid);
  return { at: performance.now(), machine: machineTicks(), procs };
}

export interface CpuUsage {
  /** Whole machine, percent of all cores (100 = every core busy). */
  machineBusyPct: number | null;
  /** Per process, percent of one core. */
  procPct: Record<string, number | null>;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuUsage {
  const seconds = (b.at - a.at) / 1000;
  const machineBusyPct =
    a.machine && b.machine && b.machine.total > a.machine.total ? (100 * (b.machine.busy - a.machine.busy)) / (b.machine.total - a.machine.total) : null;
  const procPct: Record<string, number | null> = {};
  for (const label of Object.keys(b.procs)) {
    const x = a.procs[label];
    const y = b.procs[label];
    procPct[label] = x == null || y == null || seconds <= 0 ? null : (100 * (y - x)) / TICKS_PER_SECOND / seconds;
  }
  return { machineBusyPct, procPct };
}

/** Child processes of this process whose command name is `comm` (e.g. the throwaway redis-server). */
export function childPids(comm: string): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && name === comm) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Every process's CPU ticks and command, to name what else ran on the machine during a window. */
export function sampleAllProcs(): Map<number, { comm: string; ticks: number }> {
  const all = new Map<number, { comm: string; ticks: number }>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return all;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      all.set(Number(entry), { comm, ticks: Number(rest[11]) + Number(rest[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/** The busiest processes between two samples, excluding `ours`, as "comm[pid] N%" of one core. */
export function topOthers(
  a: Map<number, { comm: string; ticks: number }>,
  b: Map<number, { comm: string; ticks: number }>,
  seconds: number,
  ours: Set<number>,
  limit = 4,
): Array<{ pid: number; comm: string; pct: number }> {
  const rows: Array<{ pid: number; comm: string; pct: number }> = [];
  for (const [pid, after] of b) {
    if (ours.has(pid)) continue;
    const before = a.get(pid)?.ticks ?? 0; // a process born during the window counts from 0
    const pct = (100 * (after.ticks - before)) / TICKS_PER_SECOND / seconds;
    if (pct >= 1) rows.push({ pid, comm: after.comm, pct });
  }
  return rows.sort((x, y) => y.pct - x.pct).slice(0, limit);
}

/** The parent pid of `pid` (e.g. the `npm exec` above `tsx`), or null. */
export function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** Resident memory of a process in MiB (VmRSS), or null. */
export function rssMiB(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Pins every thread of `pid` to the CPUs in `cpus` (a `taskset` list, e.g. "0" or "1-3"), so that a
 * server under test and its load generators stop taking turns on the same core. Linux only (`taskset`
 * from util-linux); false where it is missing or refused. Threads started later inherit the mask.
 */
export function pinProcess(pid: number, cpus: string): boolean {
  try {
    execFileSync("taskset", ["--all-tasks", "--cpu-list", "--pid", cpus, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
