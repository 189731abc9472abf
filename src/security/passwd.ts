/** One user's entry of a passwd(5) text: name and home directory. */
export interface PasswdEntry {
  name: string;
  home: string;
}

/** The first entry of `uid` in passwd text (the host's or a container's /etc/passwd), or undefined. Pure. */
export function passwdEntry(text: string, uid: number): PasswdEntry | undefined {
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && f[2] !== "" && Number(f[2]) === uid) return { name: f[0], home: f[5] ?? "" };
  }
  return undefined;
}
