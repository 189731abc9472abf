/**
 * Every action `create` would take, in its order, as numbered steps: the state directory, the cgroup
 * (directories, device rules, resource writes), layers, network, then tsrun-init's launch plan record
 * by record, with what tsrun does at each sync point spliced in where the init waits for it, and what
 * follows the launch. Pure: DryRunInputs is all it reads.
 */
import { Op } from "../../launch/ops.js";
import { idMapText } from "../id-maps.js";
import type { DeviceRule } from "../../cgroups/devices-rules.js";
import type { DryRunInputs, DryRunStep } from "./inputs.js";
import { hookAction } from "./hooks.js";
import { networkAttach, networkPrepare } from "./network.js";
import { describeRecord } from "./records.js";

type Fields = Record<string, unknown>;

function deviceRuleText(r: DeviceRule): string {
  const n = (v: number) => (v < 0 ? "*" : String(v));
  return `${r.allow ? "allow" : "deny"} ${r.type} ${n(r.major)}:${n(r.minor)} ${r.access} (${r.source})`;
}

export function dryRunSteps(d: DryRunInputs): DryRunStep[] {
  const steps: DryRunStep[] = [];
  const add = (section: string, action: string, fields: Fields = {}) => {
    // Undefined values are left out, so the JSON form holds only what applies.
    const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    steps.push({ step: steps.length + 1, section, action, ...clean });
  };

  add("state", `create the state directory ${d.stateDir} (mode 0700; ${d.root} too if missing)`, { path: d.stateDir });
  add("state", `write ${d.stateDir}/state.json (status "creating")`, { path: `${d.stateDir}/state.json` });

  // The systemd driver's unit needs the init's pid: its cgroup work happens at the setup sync point.
  if (!d.cgroup.unit) cgroupSteps(d, add);

  if (d.layers) {
    const when = d.layers.persistent ? " if missing (kept after the container)" : "";
    add("layers", `create the overlay upper dir ${d.layers.upper} (mode 0755)${when}`, { path: d.layers.upper });
    add("layers", `create the overlay work dir ${d.layers.work} (mode 0700)${when}`, { path: d.layers.work });
  }

  if (d.network) {
    for (const a of networkPrepare(d.network, d.stateDir)) add("network", a.action, a.fields);
    add("network", "record the network (host veth ends, leases) in state.json", {});
  }

  const { launch } = d;
  add("launch", `start tsrun-init with the launch plan (${launch.records.length} records)`, { records: launch.records.length });
  let cloned = false;
  for (const r of launch.records) {
    const { section, action, fields } = describeRecord(r);
    const summary = r.op === Op.SECCOMP && d.seccomp ? seccompSummary(d.seccomp) : undefined;
    // Records before the clone run in tsrun-init's first process, in tsrun's own namespaces.
    add(cloned || r.op === Op.CLONE ? section : `${section} (stage 0)`, summary ? `${action}: ${summary.text}` : action, { ...fields, ...summary?.fields });
    if (r.op === Op.CLONE) cloned = true;
    if (r.op !== Op.SYNC) continue;
    const tag = r.strs?.[0];
    if (tag === launch.syncTag) syncSetup(d, add);
    if (tag !== undefined && tag === launch.hooksSyncTag) {
      d.hooks.prestart.forEach((h, i) => hookStep(add, `/hooks/prestart/${i}`, h));
      d.hooks.createRuntime.forEach((h, i) => hookStep(add, `/hooks/createRuntime/${i}`, h));
    }
  }

  add("created", "record the init's pid and the status \"created\" in state.json", {});
  if (d.pidFile) add("created", `write the init's pid to ${d.pidFile}`, { path: d.pidFile });
  if (d.run) {
    add("run", "start the container (as `tsrun start`)", {});
    d.hooks.poststart.forEach((h, i) => hookStep(add, `/hooks/poststart/${i}`, h, "run"));
    if (!d.run.detach) {
      add("run", "wait for the process to exit and exit with its status (128+N when killed by signal N)", {});
      if (!d.run.keep) add("run", "delete the container (as `tsrun delete --force`)", {});
    }
  } else {
    d.hooks.poststart.forEach((h, i) => hookStep(add, `/hooks/poststart/${i}`, h, "later", "at `tsrun start`, once the process runs: "));
  }
  // poststop runs in the delete: run's own, or a later `tsrun delete`.
  const runDeletes = d.run !== undefined && !d.run.detach && !d.run.keep;
  d.hooks.poststop.forEach((h, i) => hookStep(add, `/hooks/poststop/${i}`, h, runDeletes ? "run" : "later", runDeletes ? "" : "at `tsrun delete`: "));
  return steps;
}

function seccompSummary(s: NonNullable<DryRunInputs["seccomp"]>): { text: string; fields: Fields } {
  const parts = [
    `default action ${s.defaultAction}`,
    `architectures ${s.architectures.length ? s.architectures.join(", ") : "native only"}`,
    `${s.rules} rule(s)`,
    s.listenerPath ? `listener ${s.listenerPath}` : "no listener",
  ];
  if (s.flags.length) parts.push(`flags ${s.flags.join(", ")}`);
  if (s.skipped.length) parts.push(`syscalls unknown on every architecture, skipped: ${s.skipped.join(", ")}`);
  return {
    text: parts.join("; "),
    fields: { defaultAction: s.defaultAction, architectures: s.architectures, rules: s.rules, listenerPath: s.listenerPath, seccompFlags: s.flags, skipped: s.skipped },
  };
}

function hookStep(add: (s: string, a: string, f?: Fields) => void, name: string, h: Parameters<typeof hookAction>[1], section = "hooks", prefix = ""): void {
  const { action, fields } = hookAction(name, h);
  add(section, prefix + action, fields);
}

/** What tsrun does while the init waits at the first sync point, then its "go". */
/** The container's cgroup: directories, device rules, resource writes (before the launch; at the sync
 *  point after the unit's start with the systemd driver). */
function cgroupSteps(d: DryRunInputs, add: (s: string, a: string, f?: Fields) => void): void {
  if (d.cgroup.none) {
    const none = d.cgroup.none;
    add("cgroup", `no cgroup of its own: the container stays in the caller's cgroup (${none.wanted} cannot be made: ${none.reason})`, { path: none.wanted, reason: none.reason });
  }
  for (const dir of d.cgroup.dirs) add("cgroup", `create cgroup directory ${dir}`, { path: dir });
  if (d.devices.driver === "skipped") add("devices", `the rules below are not enforced: ${d.devices.reason}`, { reason: d.devices.reason });
  else if (d.devices.driver === "none") add("devices", "no cgroup hierarchy guards devices on this host: the rules are not enforced", {});
  else if (d.devices.driver === "v2") add("devices", `attach an eBPF device program to ${d.devices.dir} enforcing the ${d.devices.rules.length} rules below`, { path: d.devices.dir, rules: d.devices.rules.length });
  else add("devices", `write the rules below to devices.deny / devices.allow in ${d.devices.dir}`, { path: d.devices.dir, rules: d.devices.rules.length });
  for (const r of d.devices.rules) add("devices", deviceRuleText(r), { allow: r.allow, type: r.type, major: r.major, minor: r.minor, access: r.access, source: r.source });
  if (d.devices.driver !== "skipped") add("devices", `record the device rules in ${d.stateDir} (for update)`, {});
  if (d.cgroup.enable.length) {
    add("resources", `enable controllers ${d.cgroup.enable.join(" ")} in cgroup.subtree_control of each parent of ${d.cgroup.path} (where not on yet)`, { controllers: d.cgroup.enable });
  }
  for (const w of d.cgroup.writes) {
    const fallback = w.fallback ? ` (or ${w.fallback.file} = ${w.fallback.value} where that file is missing)` : "";
    const optional = w.ifMissing !== undefined ? " (skipped when the host lacks it)" : "";
    add("resources", `write ${w.file} = ${w.value}${fallback}${optional}  [${w.field}]`, { controller: w.controller, file: w.file, value: w.value, field: w.field, fallback: w.fallback });
  }
  if (d.recordResources) add("resources", `record linux.resources in ${d.stateDir} (for update)`, {});
}

/** --systemd-cgroup: the transient unit systemd makes around the init, with each property. */
function unitSteps(unit: NonNullable<DryRunInputs["cgroup"]["unit"]>, path: string, add: (s: string, a: string, f?: Fields) => void): void {
  const bus = unit.user ? "your user's systemd" : "systemd";
  add("cgroup", `ask ${bus} to start the transient unit ${unit.unit} in ${unit.slice} with the init's pid (its cgroup: ${path}), and wait for the job`, { unit: unit.unit, slice: unit.slice, path });
  for (const p of unit.properties) {
    const v = typeof p.value === "bigint" ? p.value.toString() : JSON.stringify(p.value);
    add("cgroup", `  unit property ${p.name} = ${v}`, { property: p.name, type: p.type, value: typeof p.value === "bigint" ? p.value.toString() : p.value });
  }
}

function syncSetup(d: DryRunInputs, add: (s: string, a: string, f?: Fields) => void): void {
  const at = "at sync";
  if (d.idMaps) {
    add(at, `write the init's uid_map: ${idMapText(d.idMaps.uid).trim().replace(/\n/g, "; ")}`, { uidMappings: d.idMaps.uid });
    add(at, `write the init's gid_map: ${idMapText(d.idMaps.gid).trim().replace(/\n/g, "; ")}`, { gidMappings: d.idMaps.gid });
  }
  for (const dir of d.parentJoins) add(at, `move the init into cgroup ${dir}`, { path: dir });
  if (d.cgroup.unit) {
    unitSteps(d.cgroup.unit, d.cgroup.path, add);
    cgroupSteps(d, add);
  }
  if (d.network) for (const a of networkAttach(d.network)) add("network", a.action, a.fields);
  for (const s of d.launch.stateSlots) add(at, `send the container's state (status "${s.status}") for the init's ${s.status === "creating" ? "createContainer" : "startContainer"} hooks`, { slot: s.slot });
  if (d.launch.seccompListener) add(at, "send the container process state for the seccomp listener", { slot: d.launch.seccompListener.slot });
  add(at, "tell the init to go on", {});
}
