import { Command, Option } from "clipanion";
import { UsageError } from "../errors.js";
import { createContainer } from "../lifecycle/create.js";
import { deleteContainer } from "../lifecycle/delete.js";
import { killContainer } from "../lifecycle/kill.js";
import { runContainer } from "../lifecycle/run.js";
import { parseSignal } from "../lifecycle/signals.js";
import { startContainer } from "../lifecycle/start.js";
import { containerState, listContainers } from "../lifecycle/state.js";
import { TsrunCommand } from "./base.js";

function fdCount(text: string | undefined, flag: string): number {
  const n = Number(text ?? "0");
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, not "${text}"`);
  return n;
}

/** fds 3.. passed by socket activation (LISTEN_FDS) are kept for the container, as runc does. */
function preservedFds(flag: string | undefined): number {
  const listen = Number(process.env.LISTEN_FDS ?? 0);
  return fdCount(flag, "--preserve-fds") + (Number.isInteger(listen) && listen > 0 ? listen : 0);
}

function noTerminalSupport(consoleSocket: string | undefined): void {
  if (consoleSocket) throw new UsageError("--console-socket: terminals are not supported by this version of tsrun");
}

const createFlags = {
  bundle: () => Option.String("--bundle,-b", ".", { description: "path to the bundle directory (default: current directory)" }),
  pidFile: () => Option.String("--pid-file", { description: "file to write the container init's pid to" }),
  consoleSocket: () => Option.String("--console-socket", { description: "AF_UNIX socket to send the pty master to" }),
  noPivot: () => Option.Boolean("--no-pivot", false, { description: "use MS_MOVE + chroot instead of pivot_root" }),
  noNewKeyring: () => Option.Boolean("--no-new-keyring", false, { description: "accepted for compatibility" }),
  preserveFds: () => Option.String("--preserve-fds", { description: "number of fds above 2 to pass to the container" }),
};

export class CreateCommand extends TsrunCommand {
  static paths = [["create"]];
  static usage = Command.Usage({
    description: "create a container: everything but the user process, which waits for `start`",
    examples: [["Create c1 from a bundle", "tsrun create --bundle bundles/busybox --pid-file /tmp/c1.pid c1"]],
  });
  bundle = createFlags.bundle();
  pidFile = createFlags.pidFile();
  consoleSocket = createFlags.consoleSocket();
  noPivot = createFlags.noPivot();
  noNewKeyring = createFlags.noNewKeyring();
  preserveFds = createFlags.preserveFds();
  id = Option.String({ name: "container-id" });

  async run() {
    noTerminalSupport(this.consoleSocket);
    await createContainer(this.context.runtime, {
      id: this.id, bundle: this.bundle, pidFile: this.pidFile, noPivot: this.noPivot, preserveFds: preservedFds(this.preserveFds),
    });
  }
}

export class RunCommand extends TsrunCommand {
  static paths = [["run"]];
  static usage = Command.Usage({
    description: "create and start a container, wait for it to exit and delete it; exits with its status",
    examples: [["Run the demo bundle", "tsrun run --bundle bundles/busybox demo"]],
  });
  bundle = createFlags.bundle();
  pidFile = createFlags.pidFile();
  consoleSocket = createFlags.consoleSocket();
  noPivot = createFlags.noPivot();
  noNewKeyring = createFlags.noNewKeyring();
  preserveFds = createFlags.preserveFds();
  detach = Option.Boolean("--detach,-d", false, { description: "return once the process is started" });
  keep = Option.Boolean("--keep", false, { description: "do not delete the container after it exits" });
  id = Option.String({ name: "container-id" });

  async run() {
    noTerminalSupport(this.consoleSocket);
    return runContainer(this.context.runtime, {
      id: this.id, bundle: this.bundle, pidFile: this.pidFile, noPivot: this.noPivot,
      preserveFds: preservedFds(this.preserveFds), detach: this.detach, keep: this.keep,
    });
  }
}

export class StartCommand extends TsrunCommand {
  static paths = [["start"]];
  static usage = Command.Usage({ description: "run the user process of a created container" });
  id = Option.String({ name: "container-id" });
  run() {
    startContainer(this.context.runtime, this.id);
  }
}

export class StateCommand extends TsrunCommand {
  static paths = [["state"]];
  static usage = Command.Usage({ description: "print the state of a container as JSON" });
  id = Option.String({ name: "container-id" });
  run() {
    this.context.stdout.write(JSON.stringify(containerState(this.context.runtime, this.id), null, 2) + "\n");
  }
}

export class KillCommand extends TsrunCommand {
  static paths = [["kill"]];
  static usage = Command.Usage({
    description: "send a signal (default TERM) to the container's init process",
    examples: [["Stop c1", "tsrun kill c1 TERM"], ["Kill every process of c1", "tsrun kill --all c1 KILL"]],
  });
  all = Option.Boolean("--all,-a", false, { description: "signal every process in the container's cgroup" });
  id = Option.String({ name: "container-id" });
  signal = Option.String({ name: "signal", required: false });
  run() {
    killContainer(this.context.runtime, this.id, parseSignal(this.signal ?? "TERM"), this.all);
  }
}

export class DeleteCommand extends TsrunCommand {
  static paths = [["delete"], ["rm"]];
  static usage = Command.Usage({ description: "delete a stopped container (--force: kill it first)" });
  force = Option.Boolean("--force,-f", false, { description: "kill a created or running container, then delete it" });
  id = Option.String({ name: "container-id" });
  run() {
    deleteContainer(this.context.runtime, this.id, this.force);
  }
}

export class ListCommand extends TsrunCommand {
  static paths = [["list"], ["ls"]];
  static usage = Command.Usage({ description: "list the containers under the state root" });
  format = Option.String("--format,-f", "table", { description: "table or json" });
  quiet = Option.Boolean("--quiet,-q", false, { description: "print only the ids" });
  run() {
    const all = listContainers(this.context.runtime);
    const out = this.context.stdout;
    if (this.quiet) {
      for (const c of all) out.write(`${c.id}\n`);
    } else if (this.format === "json") {
      out.write(JSON.stringify(all) + "\n");
    } else if (this.format === "table") {
      const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...all.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) out.write(r.map((v, i) => (i < r.length - 1 ? v.padEnd(widths[i] + 3) : v)).join("") + "\n");
    } else {
      throw new UsageError(`--format must be table or json, not "${this.format}"`);
    }
  }
}
