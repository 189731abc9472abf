const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block this thread for a few milliseconds (the CLI is synchronous; no event loop to yield to). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
