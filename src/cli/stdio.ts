import { writeSync } from "node:fs";

/**
 * Output through fds 1 and 2 directly. Under Bun, the first touch of process.stdout/stdin builds
 * stream objects that cost ~9 ms, more than everything else a verb does; a runtime answers in a few.
 */
export interface Out {
  write(text: string): boolean;
}

/** `quiet`: a write that fails is dropped (false), never thrown: for stderr, where a failure must still
 *  end in the verb's own exit status (a manager's shim may hand tsrun a read-only /dev/null as fd 2). */
function fdWriter(fd: number, quiet = false): Out {
  return {
    write(text: string): boolean {
      const buf = Buffer.from(text);
      for (let off = 0; off < buf.length; ) {
        try {
          off += writeSync(fd, buf, off);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
          if (quiet || (e as NodeJS.ErrnoException).code === "EPIPE") return false;
          throw e;
        }
      }
      return true;
    },
  };
}

export const stdout = fdWriter(1);
export const stderr = fdWriter(2, true);
