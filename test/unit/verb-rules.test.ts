/**
 * src/state/verb-rules.ts: every verb × status cell, with the exact message each verb prints (managers
 * and the integration tests match these words; "cannot exec in a ... container" is runc's).
 */
import { ContainerStateError } from "../../src/errors.js";
import type { Status } from "../../src/state/status.js";
import { type Verb, VERB_RULES, checkVerb, verbRefusal } from "../../src/state/verb-rules.js";

const ID = "web-1";
const OK = undefined;
const STATUSES: Status[] = ["creating", "created", "running", "paused", "stopped"];

/** Written out by hand, cell by cell: what each verb says today. */
const EXPECTED: Record<Verb, Record<Status, string | undefined>> = {
  start: {
    creating: "cannot start container web-1: it is still being created",
    created: OK,
    running: "cannot start container web-1: it is already running",
    paused: "cannot start container web-1: it is already paused",
    stopped: "cannot start container web-1: it has stopped",
  },
  delete: {
    creating: "cannot delete container web-1: it is being created",
    created: "cannot delete container web-1 that is not stopped: it is created (use --force)",
    running: "cannot delete container web-1 that is not stopped: it is running (use --force)",
    paused: "cannot delete container web-1 that is not stopped: it is paused (use --force)",
    stopped: OK,
  },
  "delete --force": {
    creating: "cannot delete container web-1: it is being created",
    created: OK,
    running: OK,
    paused: OK,
    stopped: OK,
  },
  kill: {
    creating: "cannot kill container web-1: container not running",
    created: OK,
    running: OK,
    paused: OK,
    stopped: "cannot kill container web-1: container not running",
  },
  "kill --all": {
    creating: "cannot kill container web-1: container not running",
    created: OK,
    running: OK,
    paused: OK,
    stopped: OK,
  },
  pause: {
    creating: "cannot pause container web-1: container not running",
    created: OK,
    running: OK,
    paused: "cannot pause container web-1: container already paused",
    stopped: "cannot pause container web-1: container not running",
  },
  resume: {
    creating: "cannot resume container web-1: container not paused (it is creating)",
    created: "cannot resume container web-1: container not paused (it is created)",
    running: "cannot resume container web-1: container not paused (it is running)",
    paused: OK,
    stopped: "cannot resume container web-1: container not paused (it is stopped)",
  },
  exec: {
    creating: "cannot exec in container web-1: it is still being created",
    created: OK,
    running: OK,
    paused: "cannot exec in a paused container (use --ignore-paused to override)",
    stopped: "cannot exec in a stopped container",
  },
  "exec --ignore-paused": {
    creating: "cannot exec in container web-1: it is still being created",
    created: OK,
    running: OK,
    paused: OK,
    stopped: "cannot exec in a stopped container",
  },
  update: {
    creating: "cannot update container web-1: container not running",
    created: OK,
    running: OK,
    paused: OK,
    stopped: "cannot update container web-1: container not running",
  },
  events: {
    creating: "cannot get events of container web-1: container not running",
    created: OK,
    running: OK,
    paused: OK,
    stopped: "cannot get events of container web-1: container not running",
  },
  checkpoint: {
    creating: "cannot checkpoint container web-1: container not running",
    created: "cannot checkpoint container web-1: container not running",
    running: OK,
    paused: "cannot checkpoint container web-1: it is paused (resume it first)",
    stopped: "cannot checkpoint container web-1: container not running",
  },
};

const cells = (Object.keys(EXPECTED) as Verb[]).flatMap((verb) => STATUSES.map((status) => [verb, status, EXPECTED[verb][status]] as const));

describe("verb × status rules", () => {
  test("the table has exactly the verbs and statuses expected", () => {
    expect(Object.keys(VERB_RULES).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const row of Object.values(VERB_RULES)) expect(Object.keys(row).sort()).toEqual([...STATUSES].sort());
  });

  test.each(cells)("%s on a %s container: %s", (verb, status, message) => {
    expect(verbRefusal(verb, status, ID)).toBe(message);
    if (message === undefined) {
      expect(() => checkVerb(verb, status, ID)).not.toThrow();
      return;
    }
    let thrown: unknown;
    try {
      checkVerb(verb, status, ID);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ContainerStateError);
    expect((thrown as ContainerStateError).message).toBe(message);
    expect((thrown as ContainerStateError).id).toBe(ID);
  });

  test("the id in a message is the container's", () => {
    expect(verbRefusal("start", "stopped", "a,b")).toBe("cannot start container a,b: it has stopped");
  });
});
