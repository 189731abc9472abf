/**
 * src/cgroups/systemd/dbus-address.ts, dbus-auth.ts and the bus choice in manager.ts: which socket
 * tsrun connects to for systemd (system or user bus, as runc chooses) and the SASL lines it speaks.
 */
import { DbusError } from "../../src/errors.js";
import { escapeAddressValue, parseBusAddress } from "../../src/cgroups/systemd/dbus-address.js";
import { authRequest, parseAuthReply } from "../../src/cgroups/systemd/dbus-auth.js";
import { systemdBusAddress, systemdMajor } from "../../src/cgroups/systemd/manager.js";

describe("bus addresses", () => {
  test("unix:path=, with a guid and %-escapes", () => {
    expect(parseBusAddress("unix:path=/run/dbus/system_bus_socket")).toEqual([{ socketPath: "/run/dbus/system_bus_socket", shown: "/run/dbus/system_bus_socket" }]);
    expect(parseBusAddress("unix:path=/tmp/a%2cb%20c,guid=0123abcd")[0].socketPath).toBe("/tmp/a,b c");
    expect(parseBusAddress("unix:path=/tmp/%c3%bc")[0].socketPath).toBe("/tmp/ü");
  });

  test("abstract sockets and runtime=yes", () => {
    expect(parseBusAddress("unix:abstract=/tmp/dbus-XYZ,guid=1")).toEqual([{ socketPath: "\0/tmp/dbus-XYZ", shown: "@/tmp/dbus-XYZ" }]);
    expect(parseBusAddress("unix:runtime=yes", "/run/user/1000")[0].socketPath).toBe("/run/user/1000/bus");
  });

  test("entries are tried in order; other transports are skipped", () => {
    expect(parseBusAddress("tcp:host=localhost,port=1;unix:path=/a;unix:path=/b").map((s) => s.socketPath)).toEqual(["/a", "/b"]);
  });

  test("an address without a usable unix socket, or a bad escape, is a DbusError BadAddress", () => {
    for (const bad of ["tcp:host=x,port=1", "", "unix:tmpdir=/tmp", "unix:path=/a%zz"]) {
      let caught: unknown;
      try {
        parseBusAddress(bad, undefined);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DbusError);
      expect((caught as DbusError).name).toBe("org.freedesktop.DBus.Error.BadAddress");
    }
  });

  test("escaping a value for an address round-trips", () => {
    const dir = "/run/user/1000/we,ird;dir ü%";
    expect(escapeAddressValue(dir)).not.toMatch(/[,; ;]/);
    expect(parseBusAddress(`unix:path=${escapeAddressValue(dir)}`)[0].socketPath).toBe(dir);
  });
});

describe("which bus systemd is on", () => {
  test("system: $DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket", () => {
    expect(systemdBusAddress(false, {}).address).toBe("unix:path=/run/dbus/system_bus_socket");
    expect(systemdBusAddress(false, { DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/x" })).toEqual({ address: "unix:path=/x", label: "system bus" });
  });

  test("user: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus, else /run/user/<uid>/bus", () => {
    expect(systemdBusAddress(true, { DBUS_SESSION_BUS_ADDRESS: "unix:path=/s" }).address).toBe("unix:path=/s");
    expect(systemdBusAddress(true, { XDG_RUNTIME_DIR: "/run/user/1000" }).address).toBe("unix:path=/run/user/1000/bus");
    expect(systemdBusAddress(true, {}, 1234)).toEqual({ address: "unix:path=/run/user/1234/bus", label: "user bus" });
  });

  test("systemd's major version from its Version property", () => {
    expect(systemdMajor("252.22-1~deb12u1")).toBe(252);
    expect(systemdMajor("v255")).toBe(255);
    expect(systemdMajor("")).toBe(0);
  });
});

describe("SASL EXTERNAL", () => {
  test("the request: a nul byte, then the uid as hex-encoded decimal text", () => {
    expect(authRequest(0)).toBe("\0AUTH EXTERNAL 30\r\n");
    expect(authRequest(1000)).toBe("\0AUTH EXTERNAL 31303030\r\n");
  });

  test("OK with the server's guid accepts; REJECTED, ERROR and anything else refuse", () => {
    expect(parseAuthReply("OK 1234deadbeef")).toEqual({ ok: true, guid: "1234deadbeef" });
    expect(parseAuthReply("REJECTED EXTERNAL DBUS_COOKIE_SHA1")).toEqual({ ok: false, detail: "EXTERNAL rejected (the bus offers: EXTERNAL DBUS_COOKIE_SHA1)" });
    expect(parseAuthReply("ERROR bad")).toMatchObject({ ok: false });
    expect(parseAuthReply("DATA x")).toMatchObject({ ok: false, detail: 'unexpected reply "DATA x"' });
    expect(parseAuthReply("OK")).toMatchObject({ ok: false });
  });
});
