// The criu command lines checkpoint and restore run, from runc's flags and the container's config.
import { UsageError } from "../../src/errors.js";
import { criuLogErrors, dumpArgs, externalStdio, imageMismatch, restoreArgs, stdioInherits } from "../../src/plan/criu-args.js";

const spec = {
  mounts: [
    { destination: "/proc", type: "proc", source: "proc" },
    { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "rw"] },
    { destination: "/etc/hosts", source: "/run/c1/hosts", options: ["bind", "ro"] },
  ],
  linux: { namespaces: [{ type: "pid" as const }, { type: "network" as const, path: "/run/netns/cni-1" }] },
};

test("dump: the init, its root, cgroups, bind mounts and the joined netns as external, stdio files", () => {
  const args = dumpArgs({ imagePath: "/ck", leaveRunning: true, tcpEstablished: true, manageCgroupsMode: "full" }, { pid: 42, rootfs: "/b/rootfs", spec, nsInodes: { net: 4026532001 }, externalFiles: ["file[18:4]"] });
  expect(args).toEqual([
    "dump", "-t", "42", "-D", "/ck", "-v4", "-o", "dump.log", "--tcp-established", "--manage-cgroups=full", "--root", "/b/rootfs", "--leave-running",
    "--external", "mnt[/data]:/data", "--external", "mnt[/etc/hosts]:/etc/hosts", "--external", "net[4026532001]:ext-net", "--external", "file[18:4]",
  ]);
});

test("pre-dump tracks memory and says nothing of mounts; a dump with a parent tracks memory too", () => {
  expect(dumpArgs({ imagePath: "/ck/p", preDump: true }, { pid: 7, rootfs: "/r", spec, nsInodes: {}, externalFiles: [] })).toEqual([
    "pre-dump", "-t", "7", "-D", "/ck/p", "-v4", "-o", "pre-dump.log", "--manage-cgroups", "--root", "/r", "--track-mem",
  ]);
  const fin = dumpArgs({ imagePath: "/ck/f", parentPath: "../p", emptyNs: ["network"] }, { pid: 7, rootfs: "/r", spec: { mounts: [] }, nsInodes: {}, externalFiles: [] });
  expect(fin).toEqual(["dump", "-t", "7", "-D", "/ck/f", "-v4", "-o", "dump.log", "--manage-cgroups", "--root", "/r", "--prev-images-dir", "../p", "--track-mem", "--empty-ns", "net"]);
});

test("restore: detached, bind sources mapped back, the cgroup root, inherited fds", () => {
  const args = restoreArgs({ imagePath: "/ck", bundle: "/b", workPath: "/w", manageCgroupsMode: "ignore" }, {
    root: "/b/rootfs", spec, pidFile: "/run/tsrun/c1/criu.pid", cgroupPath: "/tsrun/c1", inheritFds: [{ fd: 1, key: "pipe:[123]" }, { fd: 3, key: "ext-net" }],
  });
  expect(args).toEqual([
    "restore", "-D", "/ck", "-v4", "-o", "restore.log", "--work-dir", "/w", "--manage-cgroups=ignore", "-d", "--root", "/b/rootfs", "--pidfile", "/run/tsrun/c1/criu.pid",
    "--external", "mnt[/data]:/srv/data", "--external", "mnt[/etc/hosts]:/run/c1/hosts", "--cgroup-root", "/tsrun/c1",
    "--inherit-fd", "fd[1]:pipe:[123]", "--inherit-fd", "fd[3]:ext-net",
  ]);
});

test("bad flags are refused by name", () => {
  const run = (f: object) => () => dumpArgs({ imagePath: "/ck", ...f }, { pid: 1, rootfs: "/r", spec, nsInodes: {}, externalFiles: [] });
  expect(run({ manageCgroupsMode: "some" })).toThrow(new UsageError('--manage-cgroups-mode must be one of soft, full, strict, ignore, not "some"'));
  expect(run({ emptyNs: ["ipc"] })).toThrow(new UsageError('--empty-ns: only "network" is supported, not "ipc"'));
});

test("stdio: pipes and sockets are inherited, files outside the container become external files (hex keys)", () => {
  expect(stdioInherits(["/dev/null", "pipe:[77]", "socket:[78]"])).toEqual([{ fd: 1, key: "pipe:[77]" }, { fd: 2, key: "socket:[78]" }]);
  expect(stdioInherits("garbage")).toEqual([]);
  const fds = [
    { fd: 0, link: "/dev/null", mntId: 24, ino: 4, mode: 0o20666 },
    { fd: 1, link: "/dev/null", mntId: 300, ino: 5, mode: 0o20666 },
    { fd: 2, link: "pipe:[9]", mntId: 15, ino: 9, mode: 0o10600 },
  ];
  expect(externalStdio(fds, new Set([300, 301]))).toEqual([{ fd: 0, key: "file[18:4]", path: "/dev/null", mode: 0o20666 }]);
});

test("a CRIU log gives its first error (the cause) and its last, without the tun probe's", () => {
  const log = [
    "(00.1) Error (criu/tun.c:85): tun: Unable to create tun: No such file or directory",
    "(00.2) Dumping",
    "(00.3) Error (criu/files-reg.c:1710): Can't lookup mount=24 for fd=0 path=/dev/null",
    "(00.4) Error (criu/cr-dump.c:1635): Dump files (pid: 154) failed with -1",
    "(00.5) Error (criu/cr-dump.c:2053): Dumping FAILED.",
  ].join("\n");
  expect(criuLogErrors(log)).toEqual(["Error (criu/files-reg.c:1710): Can't lookup mount=24 for fd=0 path=/dev/null", "Error (criu/cr-dump.c:2053): Dumping FAILED."]);
  expect(criuLogErrors("(01.2)      1: Error (criu/files.c:1213): Unable to open fd=1 id=0x3\n")).toEqual(["Error (criu/files.c:1213): Unable to open fd=1 id=0x3"]);
});

test("an image from a container with other bind mounts or joined namespaces is named as such", () => {
  const note = { id: "c0", bundle: "/b", externalMounts: ["/data", "/etc/hosts"], joinedNamespaces: ["network"], externalStdio: [] };
  expect(imageMismatch(note, spec)).toBeUndefined();
  expect(imageMismatch(note, { mounts: [] })).toBe("it was checkpointed from container c0 with bind mounts [/data, /etc/hosts], the bundle has []");
  expect(imageMismatch({ ...note, joinedNamespaces: [] }, spec)).toBe("it was checkpointed from container c0 with joined namespaces [], the bundle has [network]");
});
