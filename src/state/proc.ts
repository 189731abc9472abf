import { readFileSync } from "node:fs";

/** What /proc/<pid>/stat says about a process: its state letter and start time (clock ticks after boot). */
export interface ProcStat {
  state: string;
  startTime: number;
}

/** Parse /proc/<pid>/stat text. The command name may hold spaces and parentheses: split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const end = text.lastIndexOf(")");
  if (end < 0) return null;
  const fields = text.slice(end + 2).split(" ");
  // fields[0] is field 3 (state); starttime is field 22.
  const startTime = Number(fields[19]);
  if (!fields[0] || !Number.isFinite(startTime)) return null;
  return { state: fields[0], startTime };
}

export function readProcStat(pid: number): ProcStat | null {
  if (!(pid > 0)) return null;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is still the process that was recorded with `startTime` and has not exited.
 * A pid alone proves nothing: pids are reused. A zombie (Z) or dead (X) process has exited.
 */
export function isSameLiveProcess(pid: number, startTime: number): boolean {
  const st = readProcStat(pid);
  return st !== null && st.startTime === startTime && st.state !== "Z" && st.state !== "X";
}
