/**
 * The sync protocol between the parent (src/init/launch.ts) and tsrun-init (src/init/sync.c), defined
 * once here: the C side gets these words and numbers from the generated header (src/build/gen-init-contract.ts).
 *
 * One text line per message on the sync socket:
 *   stage 0 -> parent : "pid <n>"          host pid of the container init, right after CLONE
 *   child   -> parent : "sync <tag>"       then the child blocks until "go"
 *   parent  -> child  : "data <n> <text>"  (zero or more, before "go") text for slot n, which later
 *                                          records read (a hook's stdin, a seccomp listener's payload)
 *   parent  -> child  : "go"               continue; anything else, or EOF: the parent gave up
 *   child   -> parent : "ready"            from READY, then the child closes the socket
 *   either  -> parent : "error <msg>"      any failure before READY, then exit 1
 * On the exec fifo, from WAIT_FIFO to STARTED: "0" = about to execute, "1<msg>" = a failure.
 */
export const SYNC_MSG = {
  PID: "pid",
  SYNC: "sync",
  DATA: "data",
  GO: "go",
  READY: "ready",
  ERROR: "error",
} as const;

/** What STARTED writes on the exec fifo, and what a failure after WAIT_FIFO starts with. */
export const FIFO_STARTED = "0";
export const FIFO_FAILED = "1";

/** How many sync data slots there are (0 .. SYNC_SLOTS-1). */
export const SYNC_SLOTS = 8;
/** The slots' uses: the state JSON a hook run by tsrun-init reads on stdin (createContainer, startContainer)… */
export const SLOT_STATE_CREATING = 0;
export const SLOT_STATE_CREATED = 1;
/** …and the seccomp listener's payload. */
export const SECCOMP_LISTENER_SLOT = 2;
