/**
 * What `create --dry-run` shows, as plain data: the launch plan's records and what create does around
 * them (state dir, cgroup, devices, resources, layers, network, hooks). The renderer (steps.ts) knows
 * nothing of how these were gathered: today lifecycle/dry-run.ts builds them, later the phase-1
 * planner's value. Warnings (what the host ignores) are not actions: the caller prints them as create does.
 */
import type { CgroupWrite } from "../../cgroups/resource-writes.js";
import type { DeviceRule } from "../../cgroups/devices-rules.js";
import type { LayerSetup } from "../../fs/layers.js";
import type { NetworkPlan } from "../../network/plan.js";
import type { Hook } from "../../spec/types.js";
import type { IdMapping } from "../namespaces.js";
import type { PlanRecord } from "../../launch/ops.js";

export interface DryRunInputs {
  id: string;
  bundle: string;
  rootfs: string;
  /** The state root and the container's state directory (<root>/<id>). */
  root: string;
  stateDir: string;
  /** create stays in the foreground (`run` without --detach): it waits for the process and exits with its status. */
  foreground: boolean;
  cgroup: {
    /** The container's cgroup path (inside each hierarchy) and its directory in each hierarchy. */
    path: string;
    dirs: string[];
    /** Controllers enabled in the ancestors' cgroup.subtree_control (v2 only; those not on yet). */
    enable: string[];
    writes: CgroupWrite[];
    /** No cgroup of its own (rootless, not writable, no resources asked): why, and the path it would have had. */
    none?: { reason: string; wanted: string; named: boolean };
    /** --systemd-cgroup: the transient unit started around the init at the setup sync point (then the
     *  device program and the writes follow there), with its properties. */
    unit?: { unit: string; slice: string; user?: boolean; properties: { name: string; type: string; value: unknown }[] };
  };
  devices: {
    /** How the rules are enforced: the v1 devices controller's files, a v2 eBPF program, or not at all
     *  ("none": no hierarchy for it; "skipped": the caller may not, rootless). */
    driver: "v1" | "v2" | "none" | "skipped";
    /** The directory the rules go to (v1: devices.deny/devices.allow in it; v2: the program is attached to it). */
    dir?: string;
    /** "skipped": why. */
    reason?: string;
    rules: DeviceRule[];
  };
  /** Whether linux.resources is set: then it is recorded in the state directory for `update`. */
  recordResources: boolean;
  layers?: LayerSetup;
  network?: {
    plan: NetworkPlan;
    /** The bridge does not exist yet: create makes it. */
    makeBridge: boolean;
    /** The /etc files written to the state directory and bind-mounted into the container. */
    etcFiles: { name: string; destination: string }[];
  };
  /** Written by tsrun to /proc/<init>/uid_map and gid_map at the setup sync point (a new user namespace). */
  idMaps?: { uid: IdMapping[]; gid: IdMapping[] };
  /** v1 cgroup directories tsrun moves the init into at the setup sync point (new user namespace). */
  parentJoins: string[];
  /** The hooks tsrun itself runs (createContainer and startContainer are HOOK records of the plan). */
  hooks: { prestart: readonly Hook[]; createRuntime: readonly Hook[]; poststart: readonly Hook[]; poststop: readonly Hook[] };
  launch: {
    records: PlanRecord[];
    syncTag: string;
    hooksSyncTag?: string;
    stateSlots: { slot: number; status: string }[];
    seccompListener?: { slot: number };
  };
  /** linux.seccomp as the config gives it, for the summary beside the program's size. */
  seccomp?: { defaultAction: string; architectures: string[]; rules: number; listenerPath?: string; flags: string[]; skipped: string[] };
  pidFile?: string;
  /** `run`: what follows create (start, wait, delete). */
  run?: { detach: boolean; keep: boolean };
}

/** One action, as the JSON form prints it: numbered, its section, a sentence, and its values. */
export interface DryRunStep {
  step: number;
  section: string;
  action: string;
  [field: string]: unknown;
}
