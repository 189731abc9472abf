// linux.seccomp.architectures, seen from inside a container: an i386-ABI syscall (`int $0x80` from a
// 64-bit program, test/fixtures/ia32-mkdir.c) is judged by the filter with the i386 numbers when the
// profile names SCMP_ARCH_X86, and gets the bad-architecture action when it does not.
//
// Not every kernel runs i386 syscalls: with IA32 emulation off (ia32_emulation=0, or a kernel built
// without it) `int $0x80` kills the process with SIGSEGV before seccomp sees it. The file probes that
// first. Where the kernel runs them, it checks the filter on real i386 calls; where it does not, it
// checks what the kernel still lets it see (the multi-arch filter loads and judges native calls, the
// i386 program dies of the kernel's SIGSEGV with or without a filter) and says what it could not
// check. test/v2vm/cgroup-tests.sh runs this file again in the cgroup-v2 VM, whose Debian 6.1 kernel
// runs i386 code; the filter's i386 logic is also covered by the BPF evaluator in
// test/unit/seccomp.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Scratch, TOP, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
let ia32Dir: string;
/** Whether this kernel runs an i386 syscall at all (probed on the host, without any filter). */
let ia32Runs: boolean;
beforeAll(() => {
  ensureBuilt();
  ia32Dir = join(s.dir, "ia32");
  mkdirSync(ia32Dir);
  const bin = join(ia32Dir, "ia32-mkdir");
  execFileSync("gcc", ["-static", "-nostdlib", "-no-pie", "-O1", "-o", bin, join(TOP, "test/fixtures/ia32-mkdir.c")]);
  // The probe's mkdir target is the fixture's own path under /dev/shm; remove what it made.
  const probe = spawnSync(bin, [], { encoding: "utf8", timeout: 10_000 });
  spawnSync("rmdir", ["/dev/shm/ia32dir"]);
  ia32Runs = probe.status === 0 && probe.stdout === "ia32 mkdir: 0\n";
  if (!ia32Runs && probe.signal !== "SIGSEGV") throw new Error(`ia32 probe: unexpected result ${probe.status}/${probe.signal}: ${probe.stdout}`);
  if (!ia32Runs) {
    console.log(
      "seccomp-arch: this kernel kills `int $0x80` with SIGSEGV without any filter (IA32 emulation off):\n" +
        "  NOT checked here: that the filter judges real i386 syscalls (bad-arch action, i386 numbers).\n" +
        "  Checked instead: the multi-arch filter loads and judges native calls; the i386 logic is in the\n" +
        "  unit tests' BPF evaluator and runs for real in the cgroup-v2 VM (test/v2vm/cgroup-tests.sh).",
    );
  }
});
afterAll(() => expect(s.cleanup()).toEqual([]));

const mkdirRule = { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" };
/** `tsrun run` of args with the fixture bound at /mnt and this seccomp profile (none: undefined). */
function run(args: string[], seccomp: unknown) {
  const b = s.bundle((c) => {
    c.process.args = args;
    c.mounts.push({ destination: "/mnt", type: "bind", source: ia32Dir, options: ["bind", "ro"] });
    c.linux.seccomp = seccomp;
  });
  return s.tsrun(["run", "--bundle", b, s.id("ia32")]);
}

test("without SCMP_ARCH_X86 in the profile an i386 syscall gets the bad-architecture action (SIGSYS)", () => {
  const free = run(["/mnt/ia32-mkdir"], undefined);
  const filtered = run(["/mnt/ia32-mkdir"], { defaultAction: "SCMP_ACT_ALLOW", syscalls: [mkdirRule] });
  if (ia32Runs) {
    // The same binary runs fine without a filter: the kill is the filter's.
    expect(free.stdout).toBe("ia32 mkdir: 0\n");
    expect(filtered.status).toBe(128 + 31);
    expect(filtered.stdout).toBe("");
  } else {
    // The kernel's own SIGSEGV, with a filter as without: the filter adds nothing that hides it.
    expect(free.status).toBe(128 + 11);
    expect(filtered.status).toBe(128 + 11);
    expect(filtered.stdout).toBe("");
  }
});

test("with SCMP_ARCH_X86 the rules apply to i386 syscalls with the i386 numbers, and to native ones", () => {
  const profile = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls: [mkdirRule] };
  const r = run(["sh", "-c", "/mnt/ia32-mkdir; mkdir /dev/shm/x 2>&1; touch /dev/shm/f && echo touched"], profile);
  const native = "mkdir: can't create directory '/dev/shm/x': Operation not permitted\ntouched\n";
  // i386 mkdir is number 39 there (x86_64's 39 is getpid): EPERM proves the i386 table was used.
  expect(r.stdout).toBe(ia32Runs ? `ia32 mkdir: -1\n${native}` : native);
  expect(r.status).toBe(0);
});
