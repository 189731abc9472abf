import { mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ContainerStateError, PathError, systemReason } from "../errors.js";
import { type CheckpointFlags, checkEmptyNs, checkManageCgroupsMode, DESCRIPTORS, IMAGE_NOTE, type ImageNote, dumpArgs, externalMounts, externalStdio, type StdioFd, joinedNamespaces } from "../plan/criu-args.js";
import { loadBundle } from "../spec/load.js";
import type { Spec } from "../spec/types.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";
import { criuLogFile, runCriu } from "./criu.js";
import { deleteContainer } from "./delete.js";

/**
 * checkpoint (runc's): dump the container's process tree with CRIU into --image-path. Without
 * --leave-running (and --pre-dump) CRIU ends the processes and the container is then deleted, as runc
 * does, so that `restore` can bring it back under the same id. A failed dump leaves the container as it
 * was (CRIU resumes the tree) and the image directory with CRIU's log, which the error line names.
 */
export async function checkpointContainer(ctx: RuntimeContext, id: string, flags: CheckpointFlags): Promise<void> {
  const { store } = ctx;
  const what = `checkpoint ${id}`;
  // Flag mistakes before anything is touched.
  checkManageCgroupsMode(flags.manageCgroupsMode);
  checkEmptyNs(flags.emptyNs);
  const unlock = store.lock(id);
  let deleteAfter = false;
  try {
    const rec = store.read(id);
    checkVerb("checkpoint", liveStatus(store, rec), id);
    const { spec } = loadBundle(rec.bundle);
    refuseCheckpoint(id, spec, rec.network !== undefined || rec.netDevices !== undefined);
    const imagePath = makeDir(flags.imagePath, "image path");
    const workPath = flags.workPath !== undefined ? makeDir(flags.workPath, "work path") : undefined;
    const nsInodes: Record<string, number> = {};
    for (const n of joinedNamespaces(spec)) nsInodes[n.criu] = statSync(`/proc/${rec.pid}/ns/${n.criu}`).ino;
    const stdio = externalStdio(stdioFds(rec.pid), mountIds(rec.pid));
    if (!flags.preDump) {
      // What restore checks the bundle against, and what it gives back in place of the init's stdio.
      const note: ImageNote = {
        id,
        bundle: rec.bundle,
        externalMounts: externalMounts(spec).map((m) => m.destination).sort(),
        joinedNamespaces: joinedNamespaces(spec).map((n) => n.type).sort(),
        externalStdio: stdio,
      };
      writeFileSync(join(imagePath, IMAGE_NOTE), JSON.stringify(note) + "\n");
      writeFileSync(join(imagePath, DESCRIPTORS), JSON.stringify([0, 1, 2].map((fd) => readlinkOr(`/proc/${rec.pid}/fd/${fd}`))));
    }
    const args = dumpArgs({ ...flags, imagePath, ...(workPath ? { workPath } : {}) }, { pid: rec.pid, rootfs: rec.rootfs, spec, nsInodes, externalFiles: stdio.map((s) => s.key) });
    runCriu(ctx, args, { what, logFile: criuLogFile(imagePath, workPath, args[0]) });
    deleteAfter = !flags.leaveRunning && !flags.preDump;
  } finally {
    unlock();
  }
  // CRIU has ended the processes: what is left (cgroup, state) goes as with delete --force.
  if (deleteAfter) await deleteContainer(ctx, id, true);
}

/** What tsrun's CRIU support cannot checkpoint, refused before CRIU starts (one line each). */
function refuseCheckpoint(id: string, spec: Spec, network: boolean): void {
  const refuse = (why: string) => {
    throw new ContainerStateError(id, `cannot checkpoint container ${id}: ${why}`);
  };
  if (spec.process?.terminal) refuse("it has a terminal (process.terminal); tsrun runs CRIU through its CLI, which cannot hand the pty back on restore");
  if (network) refuse("tsrun.network and linux.netDevices containers are not supported by checkpoint yet (their host-side links would need to be described to CRIU)");
  if (spec.linux?.namespaces?.some((n) => n.type === "pid" && n.path)) refuse("it joined a pid namespace by path, which CRIU cannot restore into");
}

function makeDir(path: string, what: string): string {
  const dir = resolve(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new PathError(dir, `cannot make the ${what}: ${systemReason(e)}`);
  }
  return dir;
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** The init's fds 0-2 (those it has). */
function stdioFds(pid: number): StdioFd[] {
  const out: StdioFd[] = [];
  for (const fd of [0, 1, 2]) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const mnt = /^mnt_id:\s*([0-9]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      out.push({ fd, link, mntId: mnt ? Number(mnt[1]) : -1, ino: st.ino, mode: st.mode });
    } catch {
      // closed
    }
  }
  return out;
}

/** The mount ids of the init's mount namespace (first field of its mountinfo). */
function mountIds(pid: number): Set<number> {
  return new Set(readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").filter(Boolean).map((l) => Number(l.split(" ", 1)[0])));
}
