import { setTimeout as sleep } from "node:timers/promises";
import { ContainerStateError, UsageError } from "../errors.js";
import { recordedCgroupDriver } from "../cgroups/driver.js";
import { requireOwnCgroup } from "../cgroups/members.js";
import type { Stats } from "../cgroups/stats.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";

/** One line of `events` output, as runc prints it (oom events carry no data). */
export type ContainerEvent = { type: "stats"; id: string; data: Stats } | { type: "oom"; id: string };

/** A Go-style duration ("5s", "250ms", "1m30s", "1.5s", "2h") -> milliseconds. Pure. */
export function parseDuration(text: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let pos = 0;
  const t = text.trim();
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) throw new UsageError(`invalid duration "${text}" (use e.g. 5s, 500ms, 1m)`);
    ms += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (!(ms > 0)) throw new UsageError(`invalid duration "${text}": it must be positive`);
  return ms;
}

/** How often the OOM counter is read between stats: an OOM kill is reported within this time. */
const OOM_POLL_MS = 100;

/**
 * events: with `once`, one stats event; otherwise a stats event every `intervalMs` plus an oom event
 * each time the cgroup's OOM-kill counter grows (read every OOM_POLL_MS: a counter never misses a
 * kill, unlike a state flag, and needs no eventfd), until the container stops or is deleted.
 * `write` returns false when the reader has gone (EPIPE), which ends the stream too.
 */
export async function containerEvents(
  ctx: RuntimeContext,
  id: string,
  opts: { once: boolean; intervalMs: number },
  write: (e: ContainerEvent) => boolean,
): Promise<void> {
  const { store } = ctx;
  const rec = store.read(id);
  checkVerb("events", liveStatus(store, rec), id);
  // runc 1.1 prints zeroed stats here; nothing measured is better said than numbers that look measured.
  requireOwnCgroup(id, rec.cgroupPath, "get the events of");
  const cgroup = recordedCgroupDriver(rec, { rootless: ctx.rootless.cgroups });
  const stats = (): ContainerEvent => ({ type: "stats", id, data: cgroup.stats() });
  if (opts.once) {
    write(stats());
    return;
  }
  let ooms = cgroup.oomKills();
  let next = Date.now() + opts.intervalMs;
  for (;;) {
    await sleep(Math.max(1, Math.min(OOM_POLL_MS, next - Date.now())));
    // The counter first: an OOM kill that stops the container is still reported before the end.
    const n = cgroup.oomKills();
    if (n > ooms && !write({ type: "oom", id })) return;
    ooms = Math.max(ooms, n);
    if (!stillThere(ctx, id)) return;
    if (Date.now() >= next) {
      if (!write(stats())) return;
      next += opts.intervalMs;
      if (next < Date.now()) next = Date.now() + opts.intervalMs;
    }
  }
}

function stillThere(ctx: RuntimeContext, id: string): boolean {
  try {
    return liveStatus(ctx.store, ctx.store.read(id)) !== "stopped";
  } catch (e) {
    if (e instanceof ContainerStateError) return false; // deleted
    throw e;
  }
}
