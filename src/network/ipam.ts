/**
 * Address leases of one bridge: <root>/@ipam/<bridge>/<address>, each file holding the id of the
 * container that holds it. Fixed addresses are leased too, so two live containers never hold one
 * address, given or allocated. Every change happens under <root>/ipam/<bridge>/lock (the link(2)
 * lock of src/state/lock.ts); a lease whose container's state directory is gone is reclaimed.
 */
import { mkdirSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, TsrunError } from "../errors.js";
import { lockFile } from "../state/lock.js";
import { type Cidr, type Ip, formatIp, hostAddresses } from "./addr.js";

/** Under the state root; "@" cannot start a container id, so no container's directory can clash with it. */
export const IPAM_DIR = "@ipam";

export interface LeaseRequest {
  /** Fixed addresses, each with the JSON path it came from. */
  fixed: { ip: Ip; field: string }[];
  /** How many addresses to allocate from `subnet`. */
  allocate: number;
  subnet?: Cidr;
  /** Never handed out (the bridge's own address). */
  gateway?: Ip;
}

class DirGone extends Error {}

export class Ipam {
  readonly dir: string;
  private readonly top: string;

  /** `isLive(id)`: the container still exists (its lease must not be taken). */
  constructor(root: string, readonly bridge: string, private readonly isLive: (id: string) => boolean) {
    this.top = join(root, IPAM_DIR);
    this.dir = join(this.top, bridge);
  }

  /** Run `fn` holding the bridge's lock. */
  locked<T>(fn: () => T): T {
    let unlock: (() => void) | undefined;
    // The directory may be removed (empty) by another process between mkdir and the lock: make it again.
    for (let tries = 0; !unlock; tries++) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      try {
        unlock = lockFile(join(this.dir, "lock"), 10_000, {
          missing: () => new DirGone(),
          busy: () => new TsrunError(`address leases of bridge ${this.bridge} are locked by another tsrun process`),
        });
      } catch (e) {
        if (!(e instanceof DirGone) || tries > 100) throw e;
      }
    }
    try {
      return fn();
    } finally {
      unlock();
      // No leases left: take the directories away, so an unused state root holds only containers.
      for (const d of [this.dir, this.top]) {
        try {
          rmdirSync(d);
        } catch {
          // not empty, or already gone
        }
      }
    }
  }

  /** The holder of a lease, or undefined when the address is free (no lease, or a dead holder's). */
  private holder(name: string): string | undefined {
    let id: string;
    try {
      id = readFileSync(join(this.dir, name), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    return id && this.isLive(id) ? id : undefined;
  }

  /**
   * Lease the fixed addresses and allocate `allocate` more, all or nothing. Returns the allocated
   * addresses and the names of every lease taken (for release). A fixed address a live container
   * holds is a ConfigError naming its field.
   */
  lease(id: string, req: LeaseRequest): { allocated: Ip[]; leases: string[] } {
    return this.locked(() => {
      const names: string[] = [];
      const allocated: Ip[] = [];
      const take = (name: string) => {
        // Under the lock: overwriting a dead holder's lease is safe.
        writeFileSync(join(this.dir, name), id, { mode: 0o600 });
        names.push(name);
      };
      try {
        for (const f of req.fixed) {
          const name = formatIp(f.ip);
          const h = this.holder(name);
          if (h !== undefined) throw new ConfigError(f.field, `${name} is in use by container ${h} on bridge ${this.bridge}`);
          take(name);
        }
        if (req.allocate > 0) {
          const gw = req.gateway ? formatIp(req.gateway) : undefined;
          for (const ip of hostAddresses(req.subnet!)) {
            if (allocated.length === req.allocate) break;
            const name = formatIp(ip);
            if (name === gw || names.includes(name) || this.holder(name) !== undefined) continue;
            take(name);
            allocated.push(ip);
          }
          if (allocated.length < req.allocate) throw new ConfigError("/tsrun/network/subnet", `no free address left in ${formatIp(req.subnet!)}/${req.subnet!.prefix}`);
        }
      } catch (e) {
        this.releaseUnlocked(id, names);
        throw e;
      }
      return { allocated, leases: names };
    });
  }

  private releaseUnlocked(id: string, names: readonly string[]): void {
    for (const n of names) {
      try {
        // Only our own: after a crash the address may have been reclaimed by another container.
        if (readFileSync(join(this.dir, n), "utf8") === id) unlinkSync(join(this.dir, n));
      } catch {
        // already gone
      }
    }
  }

  release(id: string, names: readonly string[]): void {
    this.locked(() => this.releaseUnlocked(id, names));
  }

  /** Ids of live containers holding a lease on this bridge other than `except`. */
  users(except: string): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n !== "lock" && !n.startsWith("lock."));
    } catch {
      return [];
    }
    const ids = new Set<string>();
    for (const n of names) {
      const h = this.holder(n);
      if (h !== undefined && h !== except) ids.add(h);
    }
    return [...ids];
  }
}

/**
 * Release every lease held in `id`'s name on every bridge under `root` (a container whose state.json
 * is lost no longer knows its bridge and addresses). Each bridge's leases are changed under its lock.
 */
export function releaseLeasesOf(root: string, id: string): void {
  let bridges: string[];
  try {
    bridges = readdirSync(join(root, IPAM_DIR));
  } catch {
    return;
  }
  for (const bridge of bridges) {
    const ipam = new Ipam(root, bridge, () => true);
    let names: string[];
    try {
      names = readdirSync(ipam.dir).filter((n) => n !== "lock" && !n.startsWith("lock."));
    } catch {
      continue;
    }
    ipam.release(id, names);
  }
}
