// Processes and threads of this machine as /proc shows them.
import * as fs from "node:fs";

/** The fields of a /proc stat file after the command name: [0] state, [1] ppid, [38] policy. */
export function statFields(file: string): string[] {
  const stat = fs.readFileSync(file, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Processes whose command line matches, as [pid, cmdline]. */
export function processes(match: (cmdline: string, comm: string) => boolean): [number, string][] {
  const out: [number, string][] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd = "";
    let comm = "";
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (match(cmd, comm)) out.push([Number(pid), cmd]);
  }
  return out;
}

/** The parent pid of a process. */
export function ppid(pid: number): number {
  return Number(statFields(`/proc/${pid}/stat`)[1]);
}

/** Threads of these processes that run SCHED_RR or SCHED_FIFO, as "pid/tid". */
export function rtThreadsOf(pids: (number | string)[]): string[] {
  const out: string[] = [];
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        // field 41 of stat is the policy: 1 = SCHED_FIFO, 2 = SCHED_RR
        const policy = statFields(`/proc/${pid}/task/${tid}/stat`)[38];
        if (policy === "1" || policy === "2") out.push(`${pid}/${tid}`);
      } catch {
        // gone
      }
    }
  }
  return out;
}
