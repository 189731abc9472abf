import { constants } from "node:os";
import { UsageError } from "../errors.js";

/** Signals a foreground `run` or `exec` passes on to the process it waits for, as runc does. */
export const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT"] as const;

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** A signal given as TERM, SIGTERM, 15, RTMIN+3, SIGRTMAX-1 (any case) -> its number. Pure. */
export function parseSignal(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw new UsageError(`invalid signal "${text}": numbers go from 1 to ${SIGRTMAX}`);
  }
  const name = t.toUpperCase().replace(/^SIG/, "");
  const rt = /^RT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  } else {
    const n = (constants.signals as Record<string, number>)[`SIG${name}`];
    if (n !== undefined) return n;
  }
  throw new UsageError(`invalid signal "${text}"`);
}

/**
 * The signal argument of `kill`: any signal parseSignal takes, and also 0, which delivers nothing and
 * only asks whether the container's init (with --all, its processes) is still there, as kill(2) and
 * runc take it. Pure.
 */
export function parseKillSignal(text: string): number {
  return /^\s*0+\s*$/.test(text) ? 0 : parseSignal(text);
}
