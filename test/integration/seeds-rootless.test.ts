// The seed rows that build their containers as an ordinary user (issue 16): the Go talk's container
// (bundles/gotalk: the caller mapped to uid 42, a hostname of its own, PID 1) and contain.sh's namespaces
// (bundles/contain: the caller mapped to root, hostname, PID 1, only lo). Each bundle is copied as its README
// says, mapped with bundles/map-caller.sh and run by a user the test makes (and removes).
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { hostname as hostHostname } from "node:os";
import { TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";
import { type TestUser, makeTestUser } from "../helpers/users.js";

let u: TestUser;
beforeAll(() => {
  ensureBuilt();
  u = makeTestUser();
});
afterAll(() => {
  const ids = u.run(TSRUN, ["list", "-q"]).stdout.trim();
  for (const id of ids ? ids.split("\n") : []) u.run(TSRUN, ["delete", "--force", id]);
  expect(u.remove()).toEqual([]);
});

/** bundles/<name> as the README has the user take it: copied, then mapped to the user's ids by the user. */
function usersCopy(name: string): string {
  const dir = join(u.home, name);
  cpSync(join(TOP, "bundles", name), dir, { recursive: true, verbatimSymlinks: true });
  u.chown(dir);
  const r = u.run(join(TOP, "bundles/map-caller.sh"), [dir]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return dir;
}

test("the Go talk's container: id prints uid 42, its own hostname, PID 1, only lo; nothing left", () => {
  const dir = usersCopy("gotalk");
  const r = u.run(TSRUN, ["run", "--bundle", dir, "talk"]);
  expect(r.stderr).toBe("");
  const [id, ...rest] = r.stdout.split("\n");
  expect(id).toMatch(/^uid=42 gid=42( |$)/);
  expect(rest).toEqual(["hostname inside-container", "pid 1", "1 network interfaces", ""]);
  expect(hostHostname()).not.toBe("inside-container");
  expect(r.status).toBe(0);
  expect(existsSync(join(u.runtimeDir, "tsrun", "talk"))).toBe(false);
});

test("contain.sh's namespaces: User 0, PID 1, its hostname, one network interface", () => {
  const dir = usersCopy("contain");
  const r = u.run(TSRUN, ["run", "--bundle", dir, "c1"]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("User 0, PID 1 (1 processes), hostname contained, 1 network interfaces\n");
  expect(r.status).toBe(0);
  expect(existsSync(join(u.runtimeDir, "tsrun", "c1"))).toBe(false);
});
