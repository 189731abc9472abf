import { HostError } from "../errors.js";
import { type DeviceRule, WILDCARD } from "./devices-rules.js";
import { childProcess } from "../init/spawn.js";

/**
 * Rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program for cgroup v2, which has no devices files: the
 * kernel runs the program attached to the cgroup (BPF_CGROUP_DEVICE) for each open and mknod of a
 * device node and allows the access when it returns 1.
 *
 * The program decides exactly as `decide` in devices-rules.ts: for each access bit asked for
 * (m, r, w), the rules that name that bit are tested from the last to the first; the first that
 * matches decides (deny: return 0; allow: go on with the next bit); no match: return 0. All bits
 * allowed: return 1. Program context (struct bpf_cgroup_dev_ctx, 3 x u32):
 *   access_type = (access bits << 16) | device type;  major;  minor.
 */

// Values from <linux/bpf.h>.
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;

export const ACCESS_BIT: Record<string, number> = { m: BPF_DEVCG_ACC_MKNOD, r: BPF_DEVCG_ACC_READ, w: BPF_DEVCG_ACC_WRITE };

// The opcodes this encoder emits (and the test's interpreter understands).
export const OP = {
  LDXW: 0x61, // dst = *(u32 *)(src + off)
  MOV_REG: 0xbf, // dst = src (64-bit)
  MOV_IMM: 0xb7, // dst = imm
  AND_IMM: 0x57, // dst &= imm
  RSH_IMM: 0x77, // dst >>= imm
  JA: 0x05, // goto +off
  JEQ_IMM: 0x15, // if dst == imm goto +off
  JNE_IMM: 0x55, // if dst != imm goto +off
  EXIT: 0x95, // return r0
} as const;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Registers: r1 = context; r2 = device type; r3 = requested access bits; r4 = major; r5 = minor; r6 = scratch.
const CTX = 1, TYPE = 2, ACC = 3, MAJ = 4, MIN = 5, TMP = 6, RET = 0;

/** Assembler with forward labels: a jump names a label, resolved to a relative offset at the end. */
class Asm {
  readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];
  emit(code: number, dst = 0, src = 0, off = 0, imm = 0): void {
    this.insns.push({ code, dst, src, off, imm });
  }
  jump(code: number, dst: number, imm: number, label: string): void {
    this.fixups.push({ at: this.insns.length, label });
    this.emit(code, dst, 0, 0, imm);
  }
  label(name: string): void {
    this.labels.set(name, this.insns.length);
  }
  ret(v: 0 | 1): void {
    this.emit(OP.MOV_IMM, RET, 0, 0, v);
    this.emit(OP.EXIT);
  }
  done(): Insn[] {
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`devices-bpf: unresolved label ${f.label}`);
      // The offset counts from the instruction after the jump.
      this.insns[f.at].off = target - f.at - 1;
    }
    return this.insns;
  }
}

/** The program's instructions for a rule list. */
export function deviceProgram(rules: readonly DeviceRule[]): Insn[] {
  const a = new Asm();
  a.emit(OP.LDXW, TYPE, CTX, 0);
  a.emit(OP.MOV_REG, ACC, TYPE);
  a.emit(OP.AND_IMM, TYPE, 0, 0, 0xffff);
  a.emit(OP.RSH_IMM, ACC, 0, 0, 16);
  a.emit(OP.LDXW, MAJ, CTX, 4);
  a.emit(OP.LDXW, MIN, CTX, 8);
  let n = 0;
  for (const bit of ["m", "r", "w"]) {
    const next = `bit-${bit}`;
    // Skip this bit's section when the access does not ask for it.
    a.emit(OP.MOV_REG, TMP, ACC);
    a.emit(OP.AND_IMM, TMP, 0, 0, ACCESS_BIT[bit]);
    a.jump(OP.JEQ_IMM, TMP, 0, next);
    let catchAll = false;
    for (let i = rules.length - 1; i >= 0 && !catchAll; i--) {
      const r = rules[i];
      if (!r.access.includes(bit)) continue;
      const miss = `rule-${n++}`;
      const checks: [number, number][] = [];
      if (r.type !== "a") checks.push([TYPE, r.type === "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK]);
      if (r.major !== WILDCARD) checks.push([MAJ, r.major]);
      if (r.minor !== WILDCARD) checks.push([MIN, r.minor]);
      for (const [reg, v] of checks) a.jump(OP.JNE_IMM, reg, v, miss);
      if (r.allow) a.jump(OP.JA, 0, 0, next);
      else a.ret(0);
      // A rule that matches every device ends the scan: earlier rules would be unreachable code,
      // which the verifier refuses.
      catchAll = checks.length === 0;
      a.label(miss);
    }
    if (!catchAll) a.ret(0); // no rule names this bit for this device
    a.label(next);
  }
  a.ret(1);
  return a.done();
}

/** struct bpf_insn, little-endian: u8 code, u8 dst:4 | src:4 << 4, s16 off, s32 imm. */
export function encodeInsns(insns: readonly Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    b.writeUInt8(x.code, i * 8);
    b.writeUInt8((x.dst & 0xf) | ((x.src & 0xf) << 4), i * 8 + 1);
    b.writeInt16LE(x.off, i * 8 + 2);
    b.writeInt32LE(x.imm, i * 8 + 4);
  });
  return b;
}

/**
 * Load the program and attach it to the v2 cgroup directory with `tsrun-init bpf-devices DIR`
 * (program bytes on stdin). The attachment keeps the program alive after the helper exits, and it
 * goes away with the cgroup, so there is nothing to undo but the cgroup itself.
 */
export function attachDeviceProgram(initPath: string, cgroupDir: string, program: Buffer): void {
  const r = childProcess().spawnSync(initPath, ["bpf-devices", cgroupDir], { input: program, encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) {
    const why = r.error?.message ?? (r.stderr.trim() || `exit status ${r.status ?? r.signal}`);
    throw new HostError(`cannot attach the device eBPF program to ${cgroupDir}: ${why}`);
  }
}
