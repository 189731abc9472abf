import { ConfigError } from "../../src/errors.js";
import { formatCidr, formatIp, hostAddresses, inSubnet, parseCidr, parseIp } from "../../src/network/addr.js";

test("IPv4 and IPv6 parse and print canonically", () => {
  expect(formatIp(parseIp("10.77.0.5", "/x"))).toBe("10.77.0.5");
  expect(formatIp(parseIp("FD77:0:0:0:0:0:0:5", "/x"))).toBe("fd77::5");
  expect(formatIp(parseIp("::", "/x"))).toBe("::");
  expect(formatIp(parseIp("::ffff:1.2.3.4", "/x"))).toBe("::ffff:102:304");
  expect(formatIp(parseIp("1:0:0:2:0:0:0:3", "/x"))).toBe("1:0:0:2::3");
  expect(formatCidr(parseCidr("fd77::5/64", "/x"))).toBe("fd77::5/64");
});

test("bad addresses and CIDRs are ConfigErrors naming the field", () => {
  for (const bad of ["10.77.0.256", "10.77.0", "1::2::3", "x", "01.2.3.4"]) expect(() => parseIp(bad, "/a/b")).toThrow(ConfigError);
  expect(() => parseCidr("10.0.0.1", "/f")).toThrow("config.json /f: \"10.0.0.1\" is not in CIDR form");
  expect(() => parseCidr("10.0.0.1/33", "/f")).toThrow(/prefix \/33 is longer/);
  expect(() => parseCidr("fd77::1/129", "/f")).toThrow(ConfigError);
});

test("subnet membership, by family", () => {
  const s = parseCidr("10.77.0.0/16", "/s");
  expect(inSubnet(parseIp("10.77.255.254", "/x"), s)).toBe(true);
  expect(inSubnet(parseIp("10.78.0.1", "/x"), s)).toBe(false);
  expect(inSubnet(parseIp("fd77::1", "/x"), s)).toBe(false);
  expect(inSubnet(parseIp("fd77::ffff", "/x"), parseCidr("fd77::/64", "/s"))).toBe(true);
});

test("host addresses skip the network and broadcast addresses", () => {
  expect([...hostAddresses(parseCidr("10.0.0.0/30", "/s"))].map(formatIp)).toEqual(["10.0.0.1", "10.0.0.2"]);
  expect([...hostAddresses(parseCidr("10.0.0.4/31", "/s"))].map(formatIp)).toEqual(["10.0.0.4", "10.0.0.5"]);
  expect([...hostAddresses(parseCidr("fd77::/126", "/s"))].map(formatIp)).toEqual(["fd77::1", "fd77::2", "fd77::3"]);
});
