import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ContainerStateError, PathError, TsrunError, UsageError, systemReason } from "../errors.js";
import { cgroupDriver } from "../cgroups/driver.js";
import { hostHierarchies } from "../cgroups/hierarchy.js";
import { NO_CGROUP } from "../cgroups/members.js";
import { type CreatePlan, planCreate } from "../plan/create-plan.js";
import { DESCRIPTORS, checkEmptyNs, checkManageCgroupsMode, externalMounts, IMAGE_NOTE, type ImageNote, type RestoreFlags, imageMismatch, joinedNamespaces, restoreArgs, stdioInherits } from "../plan/criu-args.js";
import { loadBundle } from "../spec/load.js";
import type { Spec } from "../spec/types.js";
import { readProcStat } from "../state/proc.js";
import { checkId } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { createPlanInput, lockNewContainer, makeCgroup, newRecord } from "./create.js";
import { criuLogFile, runCriu } from "./criu.js";
import { writePidFile } from "./pid-file.js";
import { killAndWait } from "./reap.js";
import { UndoStack } from "./undo.js";

/**
 * restore (runc's): a new container `id` from the bundle, its processes brought back by CRIU from
 * --image-path instead of started. Planned as create is (every config error first, nothing made),
 * then under the undo stack: the state dir, the cgroup (made and limited as create makes it; CRIU puts
 * the tasks there per --manage-cgroups-mode, and criu itself runs in it so that "ignore" does too),
 * `criu restore`, the record (running, with the restored init's pid). A failure anywhere leaves nothing.
 */
export async function restoreContainer(ctx: RuntimeContext, id: string, flags: RestoreFlags): Promise<void> {
  checkId(id);
  const what = `restore ${id}`;
  checkManageCgroupsMode(flags.manageCgroupsMode);
  checkEmptyNs(flags.emptyNs);
  // A foreground restore would have tsrun wait for a process that is not its child (CRIU's): refused plainly.
  if (!flags.detach) throw new UsageError(`${what}: only --detach is supported (the restored process is CRIU's child, not tsrun's, so tsrun cannot wait for its exit status)`);
  const imagePath = resolve(flags.imagePath);
  if (!existsSync(join(imagePath, "inventory.img"))) {
    throw new PathError(imagePath, existsSync(imagePath) ? "not a CRIU checkpoint image (no inventory.img)" : "checkpoint image directory does not exist");
  }
  if (ctx.store.ids().includes(id)) throw new ContainerStateError(id, `container with id ${id} already exists`);
  const plan = planCreate(createPlanInput(ctx, { id, bundle: flags.bundle, noPivot: flags.noPivot, ...(flags.consoleSocket ? { consoleSocket: flags.consoleSocket } : {}) }));
  const { spec } = loadBundle(plan.bundle);
  refuseRestore(ctx, plan, spec.process?.terminal === true);
  const note = readNote(imagePath);
  if (note) {
    const mismatch = imageMismatch(note, spec);
    if (mismatch) throw new PathError(imagePath, `cannot restore container ${id} from it: ${mismatch}`);
  }
  const inherit = stdioInherits(readJson(join(imagePath, DESCRIPTORS)));

  const { store } = ctx;
  const undo = new UndoStack();
  const extraFds: number[] = [];
  let unlock: (() => void) | undefined;
  try {
    // A manager's network namespace (joined by path): CRIU takes it as the external object it dumped.
    for (const n of joinedNamespaces(spec)) {
      let fd: number;
      try {
        fd = openSync(n.path, "r");
      } catch (e) {
        throw new PathError(n.path, `cannot open the ${n.type} namespace: ${systemReason(e)}`);
      }
      undo.push(`close ${n.path}`, () => closeSync(fd));
      inherit.push({ fd: 3 + extraFds.length, key: `ext-${n.criu}` });
      extraFds.push(fd);
    }
    // Stdio files outside the container at dump time: this restore's own fd of the same kind stands in
    // (a manager's new log file), else the file the path names again (the caller's /dev/null).
    for (const x of note?.externalStdio ?? []) {
      if (fdMode(x.fd) === x.mode) {
        inherit.push({ fd: x.fd, key: x.key });
        continue;
      }
      let fd: number | undefined;
      try {
        fd = openSync(x.path, x.fd === 0 ? "r" : "a");
      } catch {
        // gone
      }
      if (fd === undefined || fdMode(fd) !== x.mode) {
        if (fd !== undefined) closeSync(fd);
        throw new TsrunError(`${what}: the container's fd ${x.fd} was ${x.path} (mode ${x.mode.toString(8)}); neither this restore's fd ${x.fd} nor that path is such a file`);
      }
      const opened = fd;
      undo.push(`close ${x.path}`, () => closeSync(opened));
      inherit.push({ fd: 3 + extraFds.length, key: x.key });
      extraFds.push(fd);
    }
    const claimed = store.claim(id);
    unlock = lockNewContainer(ctx, id, claimed);
    undo.push("remove state directory", () => store.remove(id));

    const cgroupPath = plan.cgroup.path;
    const cgroup = cgroupDriver(cgroupPath, { rootless: ctx.rootless.cgroups });
    const record = newRecord(ctx, plan);
    store.write(record);
    if (cgroupPath !== NO_CGROUP) makeCgroup(ctx, plan, cgroup, record, undo, () => {});

    makeMountpoints(plan.rootfs, plan.bundle, spec);
    const pidFile = join(store.dir(id), "criu.pid");
    const args = restoreArgs({ ...flags, imagePath }, { root: plan.rootfs, spec, pidFile, cgroupPath, inheritFds: inherit });
    // CRIU forks the restored tree from itself: with criu in the container's cgroup, so is the tree
    // whatever the mode (runc puts criu there too). tsrun goes in for the call and back out after.
    const back = cgroupPath !== NO_CGROUP ? await joinSelf(cgroup) : undefined;
    try {
      runCriu(ctx, args, { what, logFile: criuLogFile(imagePath, flags.workPath ? resolve(flags.workPath) : undefined, "restore"), extraFds });
    } finally {
      back?.();
    }
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    const st = Number.isSafeInteger(pid) && pid > 0 ? readProcStat(pid) : null;
    if (!st) throw new TsrunError(`${what}: the restored init (pid ${pid}) is gone`);
    undo.push("kill restored init", () => killAndWait([pid]));
    record.pid = pid;
    record.pidStartTime = st.startTime;
    record.status = "running";
    store.write(record);
    if (flags.pidFile) writePidFile(resolve(flags.pidFile), pid);
    undo.commit();
    for (const fd of extraFds) closeSync(fd);
    unlock();
  } catch (e) {
    const failures = await undo.unwind();
    for (const f of failures) ctx.debug(`cleanup after failed restore: ${f}`);
    unlock?.();
    throw e;
  }
}

/** What tsrun's CRIU support cannot restore, refused before anything is made (one line each). */
function refuseRestore(ctx: RuntimeContext, plan: CreatePlan, terminal: boolean): void {
  const refuse = (why: string) => {
    throw new UsageError(`restore ${plan.id}: ${why}`);
  };
  if (terminal) refuse("process.terminal is not supported (tsrun runs CRIU through its CLI, which cannot hand the pty master to --console-socket)");
  if (plan.layers) refuse("tsrun.layers is not supported (the overlay is mounted inside the container's mount namespace, CRIU needs it mounted first)");
  if (plan.network || plan.netDevices) refuse("tsrun.network and linux.netDevices are not supported");
  if (plan.cgroup.systemd) refuse("--systemd-cgroup is not supported yet (the cgroupfs driver only)");
  if (ctx.rootless.nonRootEuid) refuse("restore needs root (CRIU does)");
}

/**
 * CRIU binds each external mount onto its destination and does not make it: a root filesystem that is
 * not the dumped one (podman's `restore --import` lays out a fresh overlay) lacks the destinations the
 * container's init made at create (/run/.containerenv, /etc/hosts). Made here, as runc does, a
 * directory or an empty file after the source's kind; a path that leads out of the root is refused.
 */
function makeMountpoints(rootfs: string, bundle: string, spec: Pick<Spec, "mounts">): void {
  for (const m of externalMounts(spec)) {
    const target = join(rootfs, m.destination);
    if (lexists(target)) continue;
    // The deepest existing ancestor must resolve inside the root: from there on every part is made here.
    let have = dirname(target);
    while (!lexists(have)) have = dirname(have);
    const real = realpathSync(have);
    if (real !== rootfs && !real.startsWith(`${rootfs}/`)) throw new PathError(m.destination, `mount destination leads out of the root filesystem (${have} is ${real})`);
    const rest = relative(have, target);
    const at = join(real, rest);
    mkdirSync(dirname(at), { recursive: true, mode: 0o755 });
    let dir = true;
    try {
      dir = statSync(resolve(bundle, m.source)).isDirectory();
    } catch {
      // a missing source: CRIU says so
    }
    if (dir) mkdirSync(at, { mode: 0o755 });
    else writeFileSync(at, "", { flag: "wx", mode: 0o644 });
  }
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function fdMode(fd: number): number | undefined {
  try {
    return fstatSync(fd).mode;
  } catch {
    return undefined;
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** The image's tsrun note, if it has one (an image of runc's has none: then nothing is checked). */
function readNote(imagePath: string): ImageNote | undefined {
  const file = join(imagePath, IMAGE_NOTE);
  if (!existsSync(file)) return undefined;
  const n = readJson(file) as Partial<ImageNote> | undefined;
  if (!n || typeof n.id !== "string" || !Array.isArray(n.externalMounts) || !Array.isArray(n.joinedNamespaces) || !Array.isArray(n.externalStdio)) {
    throw new PathError(file, "checkpoint image is corrupt (unreadable tsrun note)");
  }
  return n as ImageNote;
}

/**
 * Put this process in the container's cgroup; returns how to go back to the cgroups it was in
 * (/proc/self/cgroup: "0::/path" for v2, "N:controllers:/path" per v1 hierarchy).
 */
async function joinSelf(cgroup: ReturnType<typeof cgroupDriver>): Promise<() => void> {
  const before = readFileSync("/proc/self/cgroup", "utf8").split("\n").filter(Boolean);
  await cgroup.join(process.pid);
  return () => {
    for (const line of before) {
      const a = line.indexOf(":");
      const b = line.indexOf(":", a + 1);
      const [hid, ctrls, path] = [line.slice(0, a), line.slice(a + 1, b), line.slice(b + 1)];
      const h = hostHierarchies().find((x) => (hid === "0" ? x.version === 2 : x.version === 1 && x.controllers === ctrls));
      if (!h) continue;
      try {
        writeFileSync(join(h.mountPoint, path, "cgroup.procs"), String(process.pid));
      } catch {
        // that cgroup is gone: staying in the container's only keeps its removal waiting for our exit
      }
    }
  };
}

