import { appendFileSync } from "node:fs";
import { stderr } from "./stdio.js";

export type LogFormat = "text" | "json";

/**
 * The --log file (runc's format: JSON lines {"level","msg","time"} or logfmt text), and the one line
 * on stderr that every failure prints. Managers read the last error line of the file.
 */
export class Logger {
  constructor(
    readonly file: string | undefined,
    readonly format: LogFormat,
    readonly debugEnabled: boolean,
  ) {}

  private write(level: "error" | "warning" | "debug", msg: string): void {
    if (!this.file) return;
    const time = new Date().toISOString();
    const line = this.format === "json" ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      appendFileSync(this.file, line + "\n");
    } catch (e) {
      stderr.write(`tsrun: cannot write log file ${this.file}: ${(e as Error).message}\n`);
    }
  }

  error(msg: string): void {
    // One line, whatever the message holds (a path or an argument may contain a newline).
    msg = msg.replace(/\r?\n|\r/g, "\\n");
    stderr.write(`tsrun: ${msg}\n`);
    this.write("error", msg);
  }

  warn(msg: string): void {
    stderr.write(`tsrun: warning: ${msg}\n`);
    this.write("warning", msg);
  }

  debug = (msg: string): void => {
    if (!this.debugEnabled) return;
    if (!this.file) stderr.write(`tsrun: debug: ${msg}\n`);
    this.write("debug", msg);
  };
}
