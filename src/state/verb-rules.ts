/**
 * Which verb may run on a container in which status: one table, verb × status → allowed, or the
 * message the verb fails with. The messages are kept word for word (managers and tests match them;
 * where runc has a wording, it is runc's). A flag that changes the rule is part of the verb's key.
 *
 * Verbs that only read (state, list, ps) run in every status and have no row.
 */
import { ContainerStateError } from "../errors.js";
import type { Status } from "./status.js";

export type Verb =
  | "start"
  | "delete"
  | "delete --force"
  | "kill"
  | "kill --all"
  | "pause"
  | "resume"
  | "exec"
  | "exec --ignore-paused"
  | "update"
  | "events"
  | "checkpoint";

/** Allowed (null), or the message for the container `id`. */
type Rule = null | ((id: string) => string);

const OK = null;
const notRunning = (verb: string) => (id: string) => `cannot ${verb} container ${id}: container not running`;
const execStopped = () => "cannot exec in a stopped container";
const execCreating = (id: string) => `cannot exec in container ${id}: it is still being created`;
const deleteCreating = (id: string) => `cannot delete container ${id}: it is being created`;
const notPaused = (status: Status) => (id: string) => `cannot resume container ${id}: container not paused (it is ${status})`;

export const VERB_RULES: { readonly [V in Verb]: { readonly [S in Status]: Rule } } = {
  start: {
    creating: (id) => `cannot start container ${id}: it is still being created`,
    created: OK,
    running: (id) => `cannot start container ${id}: it is already running`,
    paused: (id) => `cannot start container ${id}: it is already paused`,
    stopped: (id) => `cannot start container ${id}: it has stopped`,
  },
  delete: {
    creating: deleteCreating,
    created: (id) => `cannot delete container ${id} that is not stopped: it is created (use --force)`,
    running: (id) => `cannot delete container ${id} that is not stopped: it is running (use --force)`,
    paused: (id) => `cannot delete container ${id} that is not stopped: it is paused (use --force)`,
    stopped: OK,
  },
  // --force kills it first, but never takes a container from under a create still at work on it.
  "delete --force": { creating: deleteCreating, created: OK, running: OK, paused: OK, stopped: OK },
  // runc 1.1.5's rules: the init of a created, running or paused container. A stopped one has no
  // init to signal; one still being created has nothing to signal yet. Signal 0 (a liveness check)
  // follows the same rules: its error is the same as for any other signal.
  kill: { creating: notRunning("kill"), created: OK, running: OK, paused: OK, stopped: notRunning("kill") },
  // --all: whatever is in the container's cgroup, also once it has stopped (containerd's shim sends
  // `kill --all <id> KILL` after every exit, to end what the init left behind: finding nothing is success).
  "kill --all": { creating: notRunning("kill"), created: OK, running: OK, paused: OK, stopped: OK },
  pause: {
    creating: notRunning("pause"),
    // As runc: a created container can be paused too (its init is frozen before it runs anything).
    created: OK,
    running: OK,
    paused: (id) => `cannot pause container ${id}: container already paused`,
    stopped: notRunning("pause"),
  },
  resume: { creating: notPaused("creating"), created: notPaused("created"), running: notPaused("running"), paused: OK, stopped: notPaused("stopped") },
  // runc's words (no id in them), except for "creating", which runc does not have.
  exec: {
    creating: execCreating,
    created: OK,
    running: OK,
    paused: () => "cannot exec in a paused container (use --ignore-paused to override)",
    stopped: execStopped,
  },
  // The process freezes as it joins the cgroup and goes on at `resume`.
  "exec --ignore-paused": { creating: execCreating, created: OK, running: OK, paused: OK, stopped: execStopped },
  update: { creating: notRunning("update"), created: OK, running: OK, paused: OK, stopped: notRunning("update") },
  events: {
    creating: (id) => `cannot get events of container ${id}: container not running`,
    created: OK,
    running: OK,
    paused: OK,
    stopped: (id) => `cannot get events of container ${id}: container not running`,
  },
  // CRIU dumps a running tree; a created init has not exec'd its process (runc refuses it too). A paused
  // one would need CRIU to dump through the freezer (runc's freeze_cgroup): not done, said plainly.
  checkpoint: {
    creating: notRunning("checkpoint"),
    created: notRunning("checkpoint"),
    running: OK,
    paused: (id) => `cannot checkpoint container ${id}: it is paused (resume it first)`,
    stopped: notRunning("checkpoint"),
  },
};

/** What `verb` says about container `id` in `status`: undefined when it may run. Pure. */
export function verbRefusal(verb: Verb, status: Status, id: string): string | undefined {
  return VERB_RULES[verb][status]?.(id);
}

/** Throw the verb's ContainerStateError unless `verb` may run on container `id` in `status`. */
export function checkVerb(verb: Verb, status: Status, id: string): void {
  const refusal = verbRefusal(verb, status, id);
  if (refusal !== undefined) throw new ContainerStateError(id, refusal);
}
