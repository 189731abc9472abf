/**
 * A small classic-BPF assembler for seccomp filters: instructions whose jumps name labels, laid out into
 * struct sock_filter values. Conditional jumps hold 8-bit forward offsets; a target further than 255
 * instructions away is reached through a `ja` trampoline (32-bit offset) placed right after the jump.
 */

// linux/filter.h, linux/bpf_common.h
export const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS: A = *(u32 *)(seccomp_data + k)
export const BPF_ALU_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K: A &= k
export const BPF_JMP_JA = 0x05; // BPF_JMP | BPF_JA: pc += k
export const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
export const BPF_JGT_K = 0x25; // BPF_JMP | BPF_JGT | BPF_K (unsigned)
export const BPF_JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K (unsigned)
export const BPF_JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
export const BPF_RET_K = 0x06; // BPF_RET | BPF_K
/** BPF_MAXINSNS: the kernel refuses a longer classic program. */
export const BPF_MAXINSNS = 4096;

/** One struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A jump target; bound to a position with Assembler.place. */
export interface Label {
  readonly id: number;
}

interface Pending {
  code: number;
  k: number;
  /** Conditional jumps: targets when true / false (undefined = the next instruction). */
  jt?: Label;
  jf?: Label;
  /** BPF_JA: the target. */
  to?: Label;
}

export class Assembler {
  private insns: Pending[] = [];
  private labels: (number | undefined)[] = [];

  label(): Label {
    this.labels.push(undefined);
    return { id: this.labels.length - 1 };
  }

  /** Bind the label to the next instruction emitted. */
  place(l: Label): void {
    if (this.labels[l.id] !== undefined) throw new Error(`bpf: label ${l.id} placed twice`);
    this.labels[l.id] = this.insns.length;
  }

  load(offset: number): void {
    this.insns.push({ code: BPF_LD_W_ABS, k: offset });
  }

  and(k: number): void {
    this.insns.push({ code: BPF_ALU_AND_K, k: k >>> 0 });
  }

  /** A conditional jump on A compared with k; an omitted target is the next instruction. */
  jump(code: number, k: number, jt?: Label, jf?: Label): void {
    this.insns.push({ code, k: k >>> 0, jt, jf });
  }

  goto(to: Label): void {
    this.insns.push({ code: BPF_JMP_JA, k: 0, to });
  }

  ret(k: number): void {
    this.insns.push({ code: BPF_RET_K, k: k >>> 0 });
  }

  /** Resolve the labels into the final program, adding trampolines where a jump is too far. */
  assemble(): SockFilter[] {
    const n = this.insns.length;
    const target = (l: Label | undefined, at: number): number => {
      if (!l) return at + 1;
      const pos = this.labels[l.id];
      if (pos === undefined) throw new Error(`bpf: label ${l.id} never placed`);
      if (pos <= at) throw new Error(`bpf: backward jump from ${at} to ${pos}`);
      return pos;
    };
    // far[i]: bit 0 = the true branch needs a trampoline, bit 1 = the false branch. Only ever set, so
    // the layout grows monotonically and the loop ends.
    const far = new Uint8Array(n);
    const start = new Int32Array(n + 1);
    for (;;) {
      for (let i = 0, p = 0; i <= n; i++) {
        start[i] = p;
        if (i < n) p += 1 + (far[i]! & 1) + ((far[i]! >> 1) & 1);
      }
      let grew = false;
      for (let i = 0; i < n; i++) {
        const ins = this.insns[i]!;
        if (ins.to || ins.code === BPF_RET_K || ins.code === BPF_LD_W_ABS || ins.code === BPF_ALU_AND_K) continue;
        const after = start[i]! + 1;
        if (!(far[i]! & 1) && start[target(ins.jt, i)]! - after > 255) {
          far[i]! |= 1;
          grew = true;
        }
        if (!(far[i]! & 2) && start[target(ins.jf, i)]! - after > 255) {
          far[i]! |= 2;
          grew = true;
        }
      }
      if (!grew) break;
    }
    const out: SockFilter[] = [];
    for (let i = 0; i < n; i++) {
      const ins = this.insns[i]!;
      const here = start[i]!;
      if (ins.to) {
        out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: start[target(ins.to, i)]! - (here + 1) });
      } else if (ins.code === BPF_RET_K || ins.code === BPF_LD_W_ABS || ins.code === BPF_ALU_AND_K) {
        out.push({ code: ins.code, jt: 0, jf: 0, k: ins.k });
      } else {
        // With trampolines: [jcond] [ja true-target]? [ja false-target]?
        const tT = start[target(ins.jt, i)]!;
        const tF = start[target(ins.jf, i)]!;
        const farT = (far[i]! & 1) !== 0;
        const farF = (far[i]! & 2) !== 0;
        const tramT = here + 1;
        const tramF = here + 1 + (farT ? 1 : 0);
        const jt = (farT ? tramT : tT) - (here + 1);
        const jf = (farF ? tramF : tF) - (here + 1);
        out.push({ code: ins.code, jt, jf, k: ins.k });
        if (farT) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: tT - (tramT + 1) });
        if (farF) out.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: tF - (tramF + 1) });
      }
    }
    return out;
  }
}

/**
 * The program as the kernel reads it: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } each, little-
 * endian (so each is also the u64 code | jt << 16 | jf << 24 | k << 32 the plan carries). Written into one
 * buffer: a BigInt per instruction cost ~2 ms for a Docker-sized profile.
 */
export function packFilter(filter: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(8 * filter.length);
  const view = new DataView(out.buffer);
  filter.forEach((f, i) => {
    view.setUint16(8 * i, f.code, true);
    view.setUint8(8 * i + 2, f.jt);
    view.setUint8(8 * i + 3, f.jf);
    view.setUint32(8 * i + 4, f.k >>> 0, true);
  });
  return out;
}
