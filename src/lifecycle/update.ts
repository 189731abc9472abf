import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, UsageError } from "../errors.js";
import type { DeviceRule } from "../cgroups/devices-rules.js";
import { recordedCgroupDriver } from "../cgroups/driver.js";
import { requireOwnCgroup } from "../cgroups/members.js";
import { initPath } from "../init/locate.js";
import { inNestedUserNamespace } from "./host.js";
import { validateResources } from "../spec/validate.js";
import type { LinuxResources } from "../spec/types.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";

/**
 * The resources in force, kept beside state.json (in the state directory, so delete removes it with
 * the rest). `update` merges into it, so successive updates add up, as with runc.
 */
const RESOURCES_FILE = "resources.json";
/** The container's device cgroup rules as create built them (config, then runc's defaults). */
const DEVICE_RULES_FILE = "device-rules.json";

function writeRecord(stateDir: string, name: string, value: unknown): void {
  const file = join(stateDir, name);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

function readRecord<T>(stateDir: string, name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, name), "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export const writeRecordedResources = (stateDir: string, r: LinuxResources): void => writeRecord(stateDir, RESOURCES_FILE, r);
export const readRecordedResources = (stateDir: string): LinuxResources => readRecord<LinuxResources>(stateDir, RESOURCES_FILE) ?? {};
export const writeRecordedDeviceRules = (stateDir: string, rules: readonly DeviceRule[]): void => writeRecord(stateDir, DEVICE_RULES_FILE, rules);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `base` with `change` laid over it: objects merge key by key (memory, cpu, blockIO, unified, rdma),
 * anything else (numbers, strings, lists such as throttle devices) is replaced. One exception, as
 * runc: a memory limit of -1 without a swap limit in the same change lifts the swap limit too (an
 * earlier swap limit below an unlimited memory would be refused by the kernel). Pure.
 */
export function mergeResources(base: LinuxResources, change: LinuxResources): LinuxResources {
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isObj(a) || !isObj(b)) return b === undefined ? a : b;
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
    return out;
  };
  const merged = merge(base, change) as LinuxResources;
  // Unset, not -1: the writers then treat it as "both unlimited" where the host can limit swap at all.
  if (change.memory?.limit === -1 && change.memory.swap === undefined && merged.memory) delete merged.memory.swap;
  return merged;
}

/**
 * Sizes as runc's flags take them (docker/go-units RAMInBytes): a number with an optional binary unit
 * k, m, g, t, p (any case, optionally followed by "b" or "ib"); "-1" means unlimited. Pure.
 */
export function parseBytes(text: string, flag: string): number {
  if (text.trim() === "-1") return -1;
  const m = /^\s*(\d+(?:\.\d+)?)\s?([kmgtp])?(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--${flag}: invalid size "${text}" (use bytes or a unit: 64m, 1g, ...)`);
  const power = m[2] ? "kmgtp".indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function parseInteger(text: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag}: "${text}" is not an integer`);
  const n = Number(text);
  if (n < min) throw new UsageError(`--${flag}: must be at least ${min}, not ${n}`);
  return n;
}

/** runc update's value flags, by name, with the LinuxResources field each sets (help texts: cli/commands.ts). */
export const UPDATE_FLAGS: { name: string; set: (r: LinuxResources, v: string, flag: string) => void }[] = [
  { name: "memory", set: (r, v, f) => void ((r.memory ??= {}).limit = parseBytes(v, f)) },
  { name: "memory-reservation", set: (r, v, f) => void ((r.memory ??= {}).reservation = parseBytes(v, f)) },
  { name: "memory-swap", set: (r, v, f) => void ((r.memory ??= {}).swap = parseBytes(v, f)) },
  { name: "kernel-memory", set: (r, v, f) => void ((r.memory ??= {}).kernel = parseBytes(v, f)) },
  { name: "kernel-memory-tcp", set: (r, v, f) => void ((r.memory ??= {}).kernelTCP = parseBytes(v, f)) },
  { name: "cpu-quota", set: (r, v, f) => void ((r.cpu ??= {}).quota = parseInteger(v, f, -1)) },
  { name: "cpu-period", set: (r, v, f) => void ((r.cpu ??= {}).period = parseInteger(v, f, 0)) },
  { name: "cpu-burst", set: (r, v, f) => void ((r.cpu ??= {}).burst = parseInteger(v, f, 0)) },
  { name: "cpu-idle", set: (r, v, f) => void ((r.cpu ??= {}).idle = parseInteger(v, f, Number.MIN_SAFE_INTEGER)) },
  { name: "cpu-share", set: (r, v, f) => void ((r.cpu ??= {}).shares = parseInteger(v, f, 0)) },
  { name: "cpu-rt-period", set: (r, v, f) => void ((r.cpu ??= {}).realtimePeriod = parseInteger(v, f, 0)) },
  { name: "cpu-rt-runtime", set: (r, v, f) => void ((r.cpu ??= {}).realtimeRuntime = parseInteger(v, f, -1)) },
  { name: "cpuset-cpus", set: (r, v) => void ((r.cpu ??= {}).cpus = v) },
  { name: "cpuset-mems", set: (r, v) => void ((r.cpu ??= {}).mems = v) },
  { name: "pids-limit", set: (r, v, f) => void (r.pids = { limit: parseInteger(v, f, -1) }) },
  { name: "blkio-weight", set: (r, v, f) => void ((r.blockIO ??= {}).weight = parseInteger(v, f, 0)) },
];

/** The LinuxResources that runc-style update flags ask for (only the flags given). Pure. */
export function resourcesFromFlags(flags: Record<string, string | boolean | undefined>): LinuxResources {
  const r: LinuxResources = {};
  for (const f of UPDATE_FLAGS) {
    const v = flags[f.name];
    if (typeof v === "string") f.set(r, v, f.name);
  }
  return r;
}

/** Validate a LinuxResources document; its errors name the field inside the document (`/memory/limit`). */
export function checkResourcesDoc(raw: unknown, source: string): LinuxResources {
  try {
    return validateResources(raw, "");
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${source}: ${e.message.replace(/^config\.json /, "")}`);
    throw e;
  }
}

/** Read `--resources FILE|-` (stdin for "-", as containerd sends it) and validate it. */
export function readResourcesArg(arg: string): LinuxResources {
  const source = arg === "-" ? "--resources (stdin)" : `--resources ${arg}`;
  let text: string;
  try {
    text = readFileSync(arg === "-" ? 0 : arg, "utf8");
  } catch (e) {
    throw new UsageError(`${source}: cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  return checkResourcesDoc(raw, source);
}

/**
 * update: apply the change merged with what is in force to the container's cgroup, then record it.
 * A refused value leaves the limits as they were (apply puts back what it wrote) and the record
 * unchanged. The device rules are not changed by update (runc's update does not take them either),
 * but applied again, as runc does (what a suite that runs updates against live device access sees).
 */
export async function updateContainer(ctx: RuntimeContext, id: string, change: LinuxResources): Promise<void> {
  const { store } = ctx;
  const unlock = store.lock(id);
  try {
    // Read under the lock, as every verb: a delete racing this update has either finished or waits.
    const rec = store.read(id);
    checkVerb("update", liveStatus(store, rec), id);
    requireOwnCgroup(id, rec.cgroupPath, "update");
    const { devices, ...wanted } = change;
    if (devices) ctx.warn("update: /devices ignored: device rules are set at create only (as runc)");
    const merged = mergeResources(readRecordedResources(store.dir(id)), wanted);
    const { devices: _recorded, ...toApply } = merged;
    const cgroup = recordedCgroupDriver(rec, { rootless: ctx.rootless.cgroups });
    await cgroup.applyResources(toApply, { warn: ctx.warn, restoreOnError: true });
    writeRecordedResources(store.dir(id), merged);
    const rules = readRecord<DeviceRule[]>(store.dir(id), DEVICE_RULES_FILE);
    if (rules) cgroup.applyDevices(rules, { warn: ctx.warn, initPath: initPath(), nestedUserNs: inNestedUserNamespace(), live: true });
  } finally {
    unlock();
  }
}
