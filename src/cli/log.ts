import { openSync, writeSync } from "node:fs";
import { PathError, systemReason } from "../errors.js";
import { stderr } from "./stdio.js";

export type LogFormat = "text" | "json";

/**
 * The --log file (runc's format: JSON lines {"level","msg","time"} or logfmt text), and the one line
 * on stderr that every failure prints. Managers read the last error line of the file.
 *
 * The file is opened (created if missing, appended to) before anything else is done, as runc opens
 * it: it exists after every call, so a manager that reads it after a failure always finds it.
 */
export class Logger {
  private readonly fd: number | undefined;

  constructor(
    readonly file: string | undefined,
    readonly format: LogFormat,
    readonly debugEnabled: boolean,
  ) {
    if (file === undefined) return;
    try {
      this.fd = openSync(file, "a", 0o644);
    } catch (e) {
      throw new PathError(file, `cannot open the log file: ${systemReason(e)}`);
    }
  }

  private write(level: "error" | "warning" | "debug", msg: string): void {
    if (this.fd === undefined) return;
    const time = new Date().toISOString();
    const line = this.format === "json" ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      // One write of the whole line on an O_APPEND fd: concurrent calls never interleave within a line.
      writeSync(this.fd, line + "\n");
    } catch (e) {
      stderr.write(`tsrun: cannot write log file ${this.file}: ${(e as Error).message}\n`);
    }
  }

  error(msg: string): void {
    // One line, whatever the message holds (a path or an argument may contain a newline).
    msg = msg.replace(/\r?\n|\r/g, "\\n");
    // The log first: a manager reads the reason there (containerd's shim), whatever stderr is.
    this.write("error", msg);
    stderr.write(`tsrun: ${msg}\n`);
  }

  warn(msg: string): void {
    stderr.write(`tsrun: warning: ${msg}\n`);
    this.write("warning", msg);
  }

  debug = (msg: string): void => {
    if (!this.debugEnabled) return;
    if (this.fd === undefined) stderr.write(`tsrun: debug: ${msg}\n`);
    this.write("debug", msg);
  };
}
