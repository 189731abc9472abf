/**
 * src/security/seccomp: profile -> classic BPF. The produced program is run by a small evaluator here
 * (the kernel's semantics for the instructions the compiler emits) over sample seccomp_data, so each test
 * states what a syscall gets, not which instructions were emitted.
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/errors.js";
import { type PlanSpec, buildPlan } from "../../src/plan/build.js";
import { buildExecPlan } from "../../src/plan/exec-plan.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { SECCOMP_LISTENER_SLOT } from "../../src/plan/process.js";
import { Assembler, BPF_JEQ_K, BPF_MAXINSNS, packFilter, type SockFilter } from "../../src/security/seccomp/bpf.js";
import { decodePlan, encodePlan } from "../../src/launch/encode.js";
import { compileSeccomp, SECCOMP_RET } from "../../src/security/seccomp/compile.js";
import { SYSCALL_TABLES, X32_SYSCALL_BIT } from "../../src/security/seccomp/generated/syscalls.js";
import { containerProcessState } from "../../src/security/seccomp/process-state.js";
import type { LinuxSeccomp } from "../../src/spec/types.js";
import { fieldOf } from "../helpers/config-error.js";

const AUDIT_X86_64 = 0xc000003e;
const AUDIT_I386 = 0x40000003;
const AUDIT_AARCH64 = 0xc00000b7;
const X64 = SYSCALL_TABLES.x86_64;
const X86 = SYSCALL_TABLES.x86!;
const X32 = SYSCALL_TABLES.x32!;
const ERRNO = (e: number) => (SECCOMP_RET.ERRNO | e) >>> 0;
const EPERM = 1;
const ENOSYS = 38;
const U64_MAX = (1n << 64n) - 1n;

// ---- the evaluator ------------------------------------------------------------------------------------

/** What the kernel checks before accepting a classic program (sk_chk_filter + seccomp's own check). */
function checkProgram(f: SockFilter[]): void {
  expect(f.length).toBeGreaterThan(0);
  expect(f.length).toBeLessThanOrEqual(BPF_MAXINSNS);
  f.forEach((ins, pc) => {
    switch (ins.code) {
      case 0x20:
        expect(ins.k % 4).toBe(0);
        expect(ins.k).toBeLessThan(64);
        break;
      case 0x05:
        expect(pc + 1 + ins.k).toBeLessThan(f.length);
        break;
      case 0x15:
      case 0x25:
      case 0x35:
      case 0x45:
        expect(pc + 1 + Math.max(ins.jt, ins.jf)).toBeLessThan(f.length);
        expect(ins.jt).toBeLessThanOrEqual(255);
        expect(ins.jf).toBeLessThanOrEqual(255);
        break;
      case 0x06:
      case 0x54:
        break;
      default:
        throw new Error(`unexpected opcode 0x${ins.code.toString(16)} at ${pc}`);
    }
  });
  expect(f[f.length - 1]!.code).toBe(0x06);
}

interface Call {
  nr: number;
  arch?: number;
  args?: (bigint | number)[];
}

/** Run the program over one struct seccomp_data; returns the SECCOMP_RET_* value. */
function run(f: SockFilter[], call: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE((call.arch ?? AUDIT_X86_64) >>> 0, 4);
  (call.args ?? []).forEach((a, i) => data.writeBigUInt64LE(BigInt(a) & U64_MAX, 16 + 8 * i));
  let A = 0;
  for (let pc = 0, steps = 0; steps < 10000; steps++) {
    const ins = f[pc];
    if (!ins) throw new Error(`fell off the program at ${pc}`);
    const cond = (c: boolean) => (pc += 1 + (c ? ins.jt : ins.jf));
    switch (ins.code) {
      case 0x20:
        A = data.readUInt32LE(ins.k);
        pc++;
        break;
      case 0x54:
        A = (A & ins.k) >>> 0;
        pc++;
        break;
      case 0x05:
        pc += 1 + ins.k;
        break;
      case 0x15:
        cond(A === ins.k >>> 0);
        break;
      case 0x25:
        cond(A > ins.k >>> 0);
        break;
      case 0x35:
        cond(A >= ins.k >>> 0);
        break;
      case 0x45:
        cond((A & ins.k) !== 0);
        break;
      case 0x06:
        return ins.k >>> 0;
      default:
        throw new Error(`opcode 0x${ins.code.toString(16)}`);
    }
  }
  throw new Error("loop");
}

function compile(p: LinuxSeccomp) {
  const c = compileSeccomp(p);
  checkProgram(c.filter);
  return c;
}

/** A compiled profile as a function: call(nr, args, arch) -> action. */
function filterOf(p: LinuxSeccomp) {
  const { filter } = compile(p);
  return (nr: number, args: (bigint | number)[] = [], arch = AUDIT_X86_64) => run(filter, { nr, arch, args });
}

// ---- tests --------------------------------------------------------------------------------------------

describe("syscall tables from the kernel headers", () => {
  test("have the x86 ABIs with the numbers the kernel uses", () => {
    // Spot checks against the stable x86 ABI (these numbers never change once released).
    expect(X64.read).toBe(0);
    expect(X64.mkdir).toBe(83);
    expect(X64.execve).toBe(59);
    expect(X86.mkdir).toBe(39);
    expect(X86.exit).toBe(1);
    expect(X32_SYSCALL_BIT).toBe(0x40000000);
    expect(X32.mkdir).toBe(X32_SYSCALL_BIT + 83);
    expect(Object.keys(X64).length).toBeGreaterThan(300);
  });
});

describe("actions", () => {
  test("a rule's action applies to its syscalls, everything else gets the default", () => {
    const call = filterOf({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] });
    expect(call(X64.mkdir!)).toBe(ERRNO(EPERM));
    expect(call(X64.mkdirat!)).toBe(ERRNO(EPERM));
    expect(call(X64.read!)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.rmdir!)).toBe(SECCOMP_RET.ALLOW);
  });

  test.each([
    ["SCMP_ACT_KILL", undefined, SECCOMP_RET.KILL_THREAD],
    ["SCMP_ACT_KILL_THREAD", undefined, SECCOMP_RET.KILL_THREAD],
    ["SCMP_ACT_KILL_PROCESS", undefined, SECCOMP_RET.KILL_PROCESS],
    ["SCMP_ACT_TRAP", undefined, SECCOMP_RET.TRAP],
    ["SCMP_ACT_ERRNO", undefined, ERRNO(EPERM)],
    ["SCMP_ACT_ERRNO", 18, ERRNO(18)],
    ["SCMP_ACT_ERRNO", 0, ERRNO(0)],
    ["SCMP_ACT_TRACE", undefined, (SECCOMP_RET.TRACE | EPERM) >>> 0],
    ["SCMP_ACT_TRACE", 7, (SECCOMP_RET.TRACE | 7) >>> 0],
    ["SCMP_ACT_LOG", undefined, SECCOMP_RET.LOG],
  ] as const)("%s (errnoRet %s) returns 0x%s", (action, errnoRet, value) => {
    const call = filterOf({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getpid"], action, errnoRet }] });
    expect(call(X64.getpid!)).toBe(value >>> 0);
    expect(call(X64.getppid!)).toBe(SECCOMP_RET.ALLOW);
  });

  test("SCMP_ACT_NOTIFY asks for a listener fd", () => {
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", listenerMetadata: "m", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] });
    expect(run(c.filter, { nr: X64.mkdir! })).toBe(SECCOMP_RET.USER_NOTIF);
    expect(c.notify).toBe(true);
    expect(c.flags & 8).toBe(8); // NEW_LISTENER
    expect(c.listenerPath).toBe("/run/agent.sock");
    expect(c.listenerMetadata).toBe("m");
  });

  test("defaultErrnoRet is what every syscall outside the profile gets", () => {
    const call = filterOf({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 95, syscalls: [{ names: ["read", "write", "exit_group", "openat"], action: "SCMP_ACT_ALLOW" }] });
    expect(call(X64.read!)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.mkdir!)).toBe(ERRNO(95));
    const plain = filterOf({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["openat"], action: "SCMP_ACT_ALLOW" }] });
    expect(plain(X64.mkdir!)).toBe(ERRNO(EPERM));
  });

  test("syscalls newer than any the deny-by-default profile names get ENOSYS (runc's stub), not the default", () => {
    const call = filterOf({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "openat"], action: "SCMP_ACT_ALLOW" }] });
    expect(call(X64.openat!)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.openat! + 1)).toBe(ERRNO(ENOSYS));
    expect(call(X64.mkdir!)).toBe(ERRNO(EPERM)); // below the highest named: the default
    // An allow-by-default profile needs no stub.
    const allow = filterOf({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO" }] });
    expect(allow(X64.openat!)).toBe(SECCOMP_RET.ALLOW);
  });

  test("an unconditional rule with the default action is dropped (as runc), so it does not shadow later rules", () => {
    const call = filterOf({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir"], action: "SCMP_ACT_ALLOW" },
        { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
      ],
    });
    expect(call(X64.mkdir!)).toBe(ERRNO(13));
  });

  test("errnoRet is refused on an action that takes none, and above MAX_ERRNO", () => {
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_KILL", errnoRet: 1 }] }))).toBe("/linux/seccomp/syscalls/0/errnoRet");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 1 }))).toBe("/linux/seccomp/defaultErrnoRet");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 4096 }))).toBe("/linux/seccomp/defaultErrnoRet");
  });

  test("unknown action is a ConfigError naming the field", () => {
    const bad = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_NOPE" }] } as unknown as LinuxSeccomp;
    expect(fieldOf(() => compileSeccomp(bad))).toBe("/linux/seccomp/syscalls/0/action");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_NOPE" } as unknown as LinuxSeccomp))).toBe("/linux/seccomp/defaultAction");
  });

  test("NOTIFY: needs listenerPath, cannot be the default, cannot catch sendmsg", () => {
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }))).toBe("/linux/seccomp/syscalls/0/action");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/a" }))).toBe("/linux/seccomp/defaultAction");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/a", syscalls: [{ names: ["mkdir", "sendmsg"], action: "SCMP_ACT_NOTIFY" }] }))).toBe("/linux/seccomp/syscalls/0/names/1");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "rel.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }))).toBe("/linux/seccomp/listenerPath");
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/" + "x".repeat(120), syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }))).toBe("/linux/seccomp/listenerPath");
    // A listenerPath without any NOTIFY rule is not used (runc does not connect either).
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/a", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] });
    expect(c.notify).toBe(false);
    expect(c.flags & 8).toBe(0);
  });
});

describe("flags", () => {
  test("TSYNC, LOG and SPEC_ALLOW map to their bits; an unknown one names its index", () => {
    expect(compile({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_TSYNC"] }).flags).toBe(1);
    expect(compile({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] }).flags).toBe(6);
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NOPE"] }))).toBe("/linux/seccomp/flags/1");
  });

  test("TSYNC with a NOTIFY rule adds TSYNC_ESRCH (the kernel refuses TSYNC|NEW_LISTENER alone)", () => {
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_TSYNC"], listenerPath: "/a", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] });
    expect(c.flags).toBe(1 | 8 | 16);
  });

  test("WAIT_KILLABLE_RECV needs a NOTIFY rule", () => {
    expect(fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] }))).toBe("/linux/seccomp/flags/0");
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], listenerPath: "/a", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] });
    expect(c.flags).toBe(32 | 8);
  });
});

describe("architectures", () => {
  const profile = (architectures?: string[]): LinuxSeccomp => ({ defaultAction: "SCMP_ACT_ALLOW", architectures, syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] });

  test("the native x86_64 only, by default: other ABIs get the bad-architecture action (KILL_THREAD, libseccomp's)", () => {
    const call = filterOf(profile());
    expect(call(X64.mkdir!)).toBe(ERRNO(EPERM));
    expect(call(X64.read!)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X86.read!, [], AUDIT_I386)).toBe(SECCOMP_RET.KILL_THREAD);
    expect(call(X32.read!)).toBe(SECCOMP_RET.KILL_THREAD); // x32 number on the x86_64 audit arch
    expect(call(X64.read!, [], AUDIT_AARCH64)).toBe(SECCOMP_RET.KILL_THREAD);
  });

  test("x86 and x32 use their own numbers; foreign architectures are accepted and skipped", () => {
    const call = filterOf(profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"]));
    expect(call(X64.mkdir!)).toBe(ERRNO(EPERM));
    expect(call(X86.mkdir!, [], AUDIT_I386)).toBe(ERRNO(EPERM));
    expect(call(X86.read!, [], AUDIT_I386)).toBe(SECCOMP_RET.ALLOW);
    // x86's mkdir number (39) is getpid on x86_64: the arch check keeps them apart.
    expect(call(39)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X32.mkdir!)).toBe(ERRNO(EPERM));
    expect(call(X32.read!)).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.read!, [], AUDIT_AARCH64)).toBe(SECCOMP_RET.KILL_THREAD);
  });

  test("x86 alone still filters the native architecture (libseccomp always adds it)", () => {
    const call = filterOf(profile(["SCMP_ARCH_X86"]));
    expect(call(X64.mkdir!)).toBe(ERRNO(EPERM));
    expect(call(X86.mkdir!, [], AUDIT_I386)).toBe(ERRNO(EPERM));
  });

  test("an unknown SCMP_ARCH_* name is a ConfigError naming it", () => {
    expect(fieldOf(() => compileSeccomp(profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"])))).toBe("/linux/seccomp/architectures/1");
  });
});

describe("syscall names", () => {
  test("names no architecture knows are skipped and reported; the others still apply", () => {
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "no_such_call", "arm_fadvise64_64"], action: "SCMP_ACT_ERRNO" }] });
    expect(c.skipped).toEqual(["no_such_call", "arm_fadvise64_64"]);
    expect(run(c.filter, { nr: X64.mkdir! })).toBe(ERRNO(EPERM));
  });

  test("a name known on one architecture only applies there (socketcall is x86's)", () => {
    const call = filterOf({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls: [{ names: ["socketcall"], action: "SCMP_ACT_ERRNO" }] });
    expect(call(X86.socketcall!, [], AUDIT_I386)).toBe(ERRNO(EPERM));
    expect(call(X86.socketcall!)).toBe(SECCOMP_RET.ALLOW); // the same number on x86_64 is another syscall
  });
});

describe("argument comparisons (unsigned 64-bit, two 32-bit words)", () => {
  const samples = [0n, 1n, 5n, 8n, 0xffffffffn, 0x100000000n, 0x100000005n, 0x7fffffffffffffffn, 1n << 63n, U64_MAX - 1n, U64_MAX];
  const reference: Record<string, (a: bigint, v: bigint, v2: bigint) => boolean> = {
    SCMP_CMP_EQ: (a, v) => a === v,
    SCMP_CMP_NE: (a, v) => a !== v,
    SCMP_CMP_LT: (a, v) => a < v,
    SCMP_CMP_LE: (a, v) => a <= v,
    SCMP_CMP_GT: (a, v) => a > v,
    SCMP_CMP_GE: (a, v) => a >= v,
    SCMP_CMP_MASKED_EQ: (a, v, v2) => (a & v) === v2,
  };
  // JSON numbers: 2^64-1 arrives as 2^64 (rounded); the compiler reads it as all ones.
  const asJson = (v: bigint) => (v === U64_MAX ? 2 ** 64 : Number(v));
  const values = [0n, 5n, 0xffffffffn, 0x100000005n, 1n << 63n, U64_MAX];

  test.each(Object.keys(reference))("%s agrees with unsigned 64-bit arithmetic on every sample", (op) => {
    for (const v of values) {
      const v2 = op === "SCMP_CMP_MASKED_EQ" ? v & 0xf0000000fn : 0n;
      for (const index of [0, 3, 5]) {
        const { filter } = compile({
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index, op: op as "SCMP_CMP_EQ", value: asJson(v), valueTwo: Number(v2) }] }],
        });
        for (const a of samples) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n];
          args[index] = a;
          const want = reference[op]!(a, v, v2) ? ERRNO(EPERM) : SECCOMP_RET.ALLOW;
          expect({ op, v, a, got: run(filter, { nr: X64.personality!, args }) }).toEqual({ op, v, a, got: want });
        }
      }
    }
  });

  test("several args in one rule are ANDed; several rules for one syscall are ORed", () => {
    const call = filterOf({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 1 }, { index: 1, op: "SCMP_CMP_EQ", value: 9 }] },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 3, args: [{ index: 1, op: "SCMP_CMP_EQ", value: 15 }] },
      ],
    });
    expect(call(X64.kill!, [1, 9])).toBe(ERRNO(EPERM));
    expect(call(X64.kill!, [2, 9])).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.kill!, [1, 10])).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.kill!, [7, 15])).toBe(ERRNO(3));
  });

  test("the same arg twice in one rule: each condition is a rule of its own (runc's behaviour)", () => {
    const call = filterOf({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 8 }, { index: 0, op: "SCMP_CMP_EQ", value: 0x20000 }] }],
    });
    expect(call(X64.personality!, [8])).toBe(ERRNO(EPERM));
    expect(call(X64.personality!, [0x20000])).toBe(ERRNO(EPERM));
    expect(call(X64.personality!, [0])).toBe(SECCOMP_RET.ALLOW);
  });

  test("conditional rules (even with the default action) come before the syscall's unconditional one: allow kill, except signal 9", () => {
    const call = filterOf({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["read", "kill", "write"], action: "SCMP_ACT_ALLOW" },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 1, args: [{ index: 1, op: "SCMP_CMP_EQ", value: 9 }] },
      ],
    });
    expect(call(X64.kill!, [5, 15])).toBe(SECCOMP_RET.ALLOW);
    expect(call(X64.kill!, [5, 9])).toBe(ERRNO(1));
    expect(call(X64.read!)).toBe(SECCOMP_RET.ALLOW);
  });

  test("conditions apply on x86 too (the kernel zero-extends 32-bit arguments)", () => {
    const call = filterOf({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_LE", value: 8 }] }],
    });
    expect(call(X86.personality!, [8], AUDIT_I386)).toBe(ERRNO(EPERM));
    expect(call(X86.personality!, [0xffffffff], AUDIT_I386)).toBe(SECCOMP_RET.ALLOW);
  });

  test("unknown operator and bad index are ConfigErrors naming the arg", () => {
    const op = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 1 }, { index: 0, op: "SCMP_CMP_APPROX", value: 1 }] }] };
    expect(fieldOf(() => compileSeccomp(op as unknown as LinuxSeccomp))).toBe("/linux/seccomp/syscalls/0/args/1/op");
    const idx = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, op: "SCMP_CMP_EQ", value: 1 }] }] };
    expect(fieldOf(() => compileSeccomp(idx as unknown as LinuxSeccomp))).toBe("/linux/seccomp/syscalls/0/args/0/index");
  });
});

describe("program size", () => {
  test("far jumps: a syscall block longer than 255 instructions still jumps right", () => {
    // 60 rules x ~5 instructions for one syscall, then an unrelated rule after it.
    const rules = Array.from({ length: 60 }, (_, i) => ({ names: ["ioctl"], action: "SCMP_ACT_ERRNO" as const, errnoRet: 1 + (i % 100), args: [{ index: 1, op: "SCMP_CMP_EQ" as const, value: 1000 + i }] }));
    const c = compile({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls: [...rules, { names: ["mkdir"], action: "SCMP_ACT_KILL_PROCESS" }] });
    expect(c.filter.length).toBeGreaterThan(600);
    expect(c.filter.some((f) => f.code === 0x05)).toBe(true); // trampolines were needed
    expect(run(c.filter, { nr: X64.ioctl!, args: [0, 1000 + 59] })).toBe(ERRNO(1 + 59));
    expect(run(c.filter, { nr: X64.ioctl!, args: [0, 1000] })).toBe(ERRNO(1));
    expect(run(c.filter, { nr: X64.ioctl!, args: [0, 999] })).toBe(SECCOMP_RET.ALLOW);
    expect(run(c.filter, { nr: X64.mkdir! })).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(run(c.filter, { nr: X86.mkdir!, arch: AUDIT_I386 })).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(run(c.filter, { nr: X86.ioctl!, arch: AUDIT_I386, args: [0, 1030] })).toBe(ERRNO(31));
  });

  test("the assembler adds trampolines for far targets on both branches", () => {
    const asm = new Assembler();
    const far1 = asm.label();
    const far2 = asm.label();
    asm.load(0);
    asm.jump(BPF_JEQ_K, 1, far1, far2);
    for (let i = 0; i < 300; i++) asm.ret(1000 + i);
    asm.place(far1);
    asm.ret(1);
    asm.place(far2);
    asm.ret(2);
    const f = asm.assemble();
    checkProgram(f);
    expect(run(f, { nr: 1 })).toBe(1);
    expect(run(f, { nr: 2 })).toBe(2);
    const packed = Buffer.from(packFilter([{ code: 0x15, jt: 1, jf: 2, k: 0xdeadbeef }, { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 }]));
    expect(packed.length).toBe(16);
    expect(packed.readBigUInt64LE(0)).toBe(0xdeadbeef02010015n);
    expect(packed.readBigUInt64LE(8)).toBe(0x7fff000000000006n);
  });

  test("a profile that cannot fit in BPF_MAXINSNS is refused", () => {
    const rules = Array.from({ length: 1000 }, (_, i) => ({ names: ["ioctl"], action: "SCMP_ACT_ERRNO" as const, args: [{ index: 1, op: "SCMP_CMP_EQ" as const, value: i }] }));
    const field = fieldOf(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: rules }));
    expect(field).toBe("/linux/seccomp/syscalls");
  });

  test("a Docker-shaped profile (hundreds of names, three x86 ABIs) stays small and correct", () => {
    const names = Object.keys(X64).filter((n) => !["mount", "umount2", "reboot", "kexec_load", "ptrace"].includes(n));
    const c = compile({
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [
        { names, action: "SCMP_ACT_ALLOW" },
        { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 0 }] },
      ],
    });
    expect(c.filter.length).toBeLessThan(1500);
    expect(run(c.filter, { nr: X64.read! })).toBe(SECCOMP_RET.ALLOW);
    expect(run(c.filter, { nr: X64.mount! })).toBe(ERRNO(EPERM));
    expect(run(c.filter, { nr: X86.read!, arch: AUDIT_I386 })).toBe(SECCOMP_RET.ALLOW);
    expect(run(c.filter, { nr: X32.read! })).toBe(SECCOMP_RET.ALLOW);
  });
});

describe("in the launch plan", () => {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;
  let bundle: string;
  beforeAll(() => {
    bundle = mkdtempSync(join(tmpdir(), "tsrun-seccomp-plan-"));
    mkdirSync(join(bundle, "rootfs"));
  });
  afterAll(() => rmSync(bundle, { recursive: true, force: true }));

  const build = (edit: (s: any) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    edit(s);
    return buildPlan({
      spec: s,
      rootfs: join(bundle, "rootfs"),
      bundle,
      fifoPath: "/run/tsrun/c1/exec.fifo",
      noPivot: false,
      preserveFds: 0,
      foreground: false,
      cgroupMounts: cgroupMountsOf("/tsrun/c1", []),
      cgroupJoin: { cloneInto: "", selfTasks: [] },
      hostCaps: (1n << 41n) - 1n,
      lastCap: 40,
    });
  };
  const idx = (recs: PlanRecord[], op: Op) => recs.findIndex((r) => r.op === op);
  const profile: LinuxSeccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] };

  test("with noNewPrivileges the filter is loaded once everything is checked, right before READY", () => {
    const p = build((s) => {
      s.process.noNewPrivileges = true;
      s.linux.seccomp = profile;
    });
    const r = p.records;
    // As runc's init: after the user change and the executable's lookup, before the exec fifo wait.
    expect(idx(r, Op.SECCOMP)).toBe(idx(r, Op.READY) - 1);
    expect(idx(r, Op.FIND_EXEC)).toBe(idx(r, Op.SECCOMP) - 1);
    expect(idx(r, Op.SETUSER)).toBeLessThan(idx(r, Op.SECCOMP));
    // As tsrun-init reads it: flags, slot, then each struct sock_filter as a little-endian u64.
    const [rec] = decodePlan(encodePlan([r[idx(r, Op.SECCOMP)]!]));
    const ints = rec!.ints as bigint[];
    expect(ints[0]).toBe(0n);
    expect(ints[1]).toBe(0xffffffffffffffffn); // -1: no listener
    const asU64 = (f: SockFilter) => BigInt(f.code) | (BigInt(f.jt) << 16n) | (BigInt(f.jf) << 24n) | (BigInt(f.k >>> 0) << 32n);
    expect(ints.slice(2)).toEqual(compileSeccomp(profile).filter.map(asU64));
    expect(idx(r, Op.SECCOMP_LISTENER)).toBe(-1);
    expect(p.seccompListener).toBeUndefined();
  });

  test("without noNewPrivileges it is loaded before the user and capabilities change", () => {
    const r = build((s) => {
      s.process.noNewPrivileges = false;
      s.linux.seccomp = profile;
    }).records;
    expect(idx(r, Op.SECCOMP)).toBeGreaterThan(idx(r, Op.PIVOT_ROOT));
    expect(idx(r, Op.SECCOMP)).toBeLessThan(idx(r, Op.CAP_BOUNDING));
    expect(idx(r, Op.SECCOMP)).toBeLessThan(idx(r, Op.SETUSER));
    expect(r.filter((x) => x.op === Op.SECCOMP)).toHaveLength(1);
  });

  // What tsrun-init may still run once the filter is loaded: the calls runc's init makes there (setgroups,
  // setres[ug]id, capset and capability prctls, fchdir, the sync and exec fifo writes, the hooks, execve).
  // The cwd's openat2 and getcwd, close_range, umask, affinity, personality, the lookup's stat: all before.
  const UNDER_FILTER = [Op.CAP_BOUNDING, Op.PRCTL, Op.SETUSER, Op.CHDIR_RETRY, Op.CAPSET, Op.AMBIENT, Op.NO_NEW_PRIVS, Op.READY, Op.WAIT_FIFO, Op.HOOK, Op.STARTED, Op.EXEC];
  const everything = (nnp: boolean) => (s: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.noNewPrivileges = nnp;
    s.process.user = { uid: 1000, gid: 1000, umask: 0o077 };
    s.process.cwd = "/tmp";
    s.process.capabilities.inheritable = ["CAP_KILL"];
    s.process.scheduler = { policy: "SCHED_BATCH" };
    s.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 4 };
    s.process.execCPUAffinity = { final: "0" };
    s.linux.personality = { domain: "LINUX32" };
    s.hooks = { startContainer: [{ path: "/bin/true" }] };
    s.linux.seccomp = profile;
  };
  test.each([false, true])("noNewPrivileges %s: after the filter only what runc's init does there", (nnp) => {
    const r = build(everything(nnp)).records;
    const after = r.slice(idx(r, Op.SECCOMP) + 1).map((x) => x.op);
    expect(after.filter((op) => !UNDER_FILTER.includes(op))).toEqual([]);
    expect(after).toContain(Op.HOOK); // startContainer hooks run under it, as runc runs them
    for (const op of [Op.CLOEXEC_FROM, Op.UMASK, Op.CHDIR, Op.FIND_EXEC, Op.PERSONALITY, Op.CPU_AFFINITY, Op.SCHED_SETATTR, Op.IOPRIO_SET, Op.RLIMIT]) {
      expect(idx(r, op)).toBeLessThan(idx(r, Op.SECCOMP));
    }
    // the cwd: entered as root before the filter, retried as the user after
    expect(idx(r, Op.CHDIR_RETRY)).toBe(idx(r, Op.SETUSER) + 1);
  });

  test.each([false, true])("noNewPrivileges %s: the same for exec", (nnp) => {
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    everything(nnp)(s);
    const r = buildExecPlan({
      process: s.process,
      namespaces: [{ type: "mount", path: "/proc/42/ns/mnt" }],
      cgroupJoin: { cloneInto: "", selfTasks: [] },
      hostCaps: (1n << 41n) - 1n,
      lastCap: 40,
      seccomp: compileSeccomp(profile),
      preserveFds: 1,
      foreground: true,
    }).records;
    const after = r.slice(idx(r, Op.SECCOMP) + 1).map((x) => x.op);
    expect(after.filter((op) => !UNDER_FILTER.includes(op))).toEqual([]);
    expect(after.slice(-2)).toEqual([Op.READY, Op.EXEC]);
    for (const op of [Op.CLOEXEC_FROM, Op.UMASK, Op.CHDIR, Op.FIND_EXEC, Op.CPU_AFFINITY]) expect(idx(r, op)).toBeLessThan(idx(r, Op.SECCOMP));
  });

  test("NOTIFY on write is refused, naming the name, as runc refuses it", () => {
    const notifyWrite = () =>
      compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/a.sock", syscalls: [{ names: ["mkdir", "write"], action: "SCMP_ACT_NOTIFY" }] });
    expect(fieldOf(notifyWrite)).toBe("/linux/seccomp/syscalls/0/names/1");
    expect(notifyWrite).toThrow("SCMP_ACT_NOTIFY cannot be used for the write syscall");
    // ERRNO on write is still a profile's own business
    expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["write"], action: "SCMP_ACT_ERRNO" }] })).not.toThrow();
  });

  test("NOTIFY: stage 0 connects the listener before the clone; the payload comes in sync slot 2", () => {
    const p = build((s) => {
      s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", listenerMetadata: "meta", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] };
    });
    const r = p.records;
    expect(idx(r, Op.SECCOMP_LISTENER)).toBeLessThan(idx(r, Op.CLONE));
    expect(r[idx(r, Op.SECCOMP_LISTENER)]!.strs).toEqual(["/run/agent.sock"]);
    expect(BigInt(r[idx(r, Op.SECCOMP)]!.ints![1]!)).toBe(BigInt(SECCOMP_LISTENER_SLOT));
    expect(SECCOMP_LISTENER_SLOT).toBe(2);
    expect(p.seccompListener).toEqual({ slot: 2, metadata: "meta" });
  });

  test("a bad profile fails the plan with its JSON path", () => {
    expect(fieldOf(() => build((s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_NOPE"] })))).toBe("/linux/seccomp/architectures/0");
  });

  test("the listener payload is runc's ContainerProcessState, on one line", () => {
    const text = containerProcessState({ ociVersion: "1.0.2", id: "c1", bundle: "/b", annotations: { a: "b\nc" } }, 4242, "meta");
    expect(text).not.toContain("\n");
    expect(JSON.parse(text)).toEqual({
      ociVersion: "1.0.2",
      fds: ["seccompFd"],
      pid: 4242,
      metadata: "meta",
      state: { ociVersion: "1.0.2", id: "c1", status: "creating", pid: 4242, bundle: "/b", annotations: { a: "b\nc" } },
    });
    expect(JSON.parse(containerProcessState({ ociVersion: "1.0.2", id: "c1", bundle: "/b", annotations: {} }, 1, undefined))).not.toHaveProperty("metadata");
  });
});

test("ConfigError is what a bad profile throws", () => {
  expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_X"] })).toThrow(ConfigError);
});
