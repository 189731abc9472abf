/**
 * Typed errors. Each carries what it is about (a config field, a path, a container id) so the CLI can
 * print one clear line and the JSON log can carry the same text.
 */
export class TsrunError extends Error {
  /** Process exit status the CLI uses for this error. */
  exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The config (or a bundle file) is wrong: `field` is its JSON path, e.g. `/process/args`. */
export class ConfigError extends TsrunError {
  constructor(readonly field: string, detail: string) {
    super(field ? `config.json ${field}: ${detail}` : `config.json: ${detail}`);
  }
}

/** A file or directory the user named cannot be used. */
export class PathError extends TsrunError {
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`);
  }
}

/**
 * The operation is not allowed in the container's current state, or the container is unknown.
 * Messages keep the phrases managers match on: "does not exist", "container not running",
 * "already exists".
 */
export class ContainerStateError extends TsrunError {
  constructor(readonly id: string, message: string) {
    super(message);
  }
}

/** Bad command-line usage (unknown signal, missing id, ...). */
export class UsageError extends TsrunError {}

/** tsrun-init reported a failure while building the container (message is its own text). */
export class InitError extends TsrunError {}

/** The host cannot do what was asked (missing kernel feature, no systemd, ...). */
export class HostError extends TsrunError {}

/**
 * A D-Bus call or connection failed. `name` is the D-Bus error name (the peer's, e.g.
 * org.freedesktop.systemd1.NoSuchUnit, or the libdbus one for a local failure: NoReply for a timeout,
 * Disconnected, NoServer, AuthFailed); `message` is the peer's text, or ours naming the bus.
 */
export class DbusError extends HostError {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A D-Bus message or value that breaks the wire format (malformed input, or a value that does not fit its signature). */
export class DbusWireError extends DbusError {
  constructor(message: string, name = "org.freedesktop.DBus.Error.InconsistentMessage") {
    super(name, message);
  }
}

/**
 * systemd refused or failed an operation on a unit: the message names the unit, and systemd's D-Bus
 * error (`dbusName`) or its job's result (`jobResult`, e.g. "failed", "timeout").
 */
export class SystemdError extends HostError {
  constructor(
    readonly unit: string,
    detail: string,
    readonly dbusName?: string,
    readonly jobResult?: string,
  ) {
    super(`systemd unit ${unit}: ${detail}`);
  }
}

/** Setting up or taking down a container's network failed (the text names the interface or bridge). */
export class NetworkError extends TsrunError {}

/** An OCI hook failed: the message names it (`/hooks/<kind>/<index>: ...`). */
export class HookError extends TsrunError {}

/**
 * The reason of a failed system call as Node and Bun word it, without the code and the path:
 * "ENOENT: no such file or directory, open '/x/.tmp'" -> "no such file or directory". For messages
 * that name the path themselves (the one the user gave, not a temporary one).
 */
export function systemReason(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  return msg.split(", ")[0].replace(/^E[A-Z0-9]+: /, "");
}
