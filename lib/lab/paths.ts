/**
 * Rules for the paths a lab config sends to its hosts (image.path, qemu.prefix, the vhost-user
 * sockets, tg.options.installDir) and for the one repo-relative directory (qemu.patchDir).
 * Such paths reach shell scripts, tar, QEMU options (`path=...,` where a comma starts the next
 * option) and `rm` on teardown, so they are held to a narrow, explainable form. Pure.
 *
 * Local paths on the machine running Pulumi (privateKey.file, hostKey.file, the local sources
 * of qemu/image) keep their own, looser rules in parse.ts.
 */
import { posix } from "node:path";

/** The run and state roots every stack shares (contract: LAB_RUN_DIR, LAB_STATE_ROOT) and the build cache. */
export const LAB_RUN_ROOT = "/run/vhost-perf-lab";
export const LAB_STATE_ROOT = "/var/lib/vhost-perf-lab";
export const LAB_CACHE_ROOT = "/var/cache/vhost-perf-lab";

/** Pulumi stack names the lab supports: they become directory names and DPDK file prefixes. */
export const STACK_NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** What the path names on the host: decides the examples and the file-only rules. */
export type HostPathKind = "file" | "dir" | "socket";

export interface PathProblem {
  /** what is wrong, for the "found" part of an error */
  reason: string;
  /** how to fix it */
  fix: string;
}

const EXAMPLE: Record<HostPathKind, string> = {
  file: "/var/lib/vm/vhost-nested.img",
  dir: "/opt/vhost-perf-lab/qemu",
  socket: `${LAB_RUN_ROOT}/{stack}/vhu-{vm}-{n}.sock`,
};

/** Characters of a lab path segment: letters, digits and . _ - + @ % : = ~ */
const SEGMENT_CHARS_RE = /^[A-Za-z0-9._+@%:=~-]+$/;
/** C0 and C1 control characters (finding them is the point) */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

function codePoint(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Rules every path shares, absolute or not: control characters, whitespace, commas, options. */
function textProblem(p: string, example: string): PathProblem | undefined {
  const ctl = CONTROL_RE.exec(p);
  if (ctl) {
    return {
      reason: `a control character (${codePoint(ctl[0])}) in it`,
      fix: `retype the path without it (a pasted escape, tab or newline?), e.g. ${example}`,
    };
  }
  if (/\s/.test(p)) {
    return {
      reason: "whitespace in it",
      fix: `use a path without spaces (it goes into shell commands and QEMU options), e.g. ${example}`,
    };
  }
  if (p.includes(",")) {
    return {
      reason: "a comma in it (QEMU's option separator: path=a,b ends the path at a)",
      fix: `use a path without commas, e.g. ${example}`,
    };
  }
  const dash = p.split("/").find((s) => s.startsWith("-"));
  if (dash !== undefined) {
    return {
      reason: `segment "${dash.length > 30 ? `${dash.slice(0, 30)}...` : dash}" starts with "-" (a command would read it as an option)`,
      fix: `rename that directory or file so it starts with a letter or digit, e.g. ${example}`,
    };
  }
  return undefined;
}

interface Place {
  /** the path itself or anything below it */
  under: string;
  /** `under` is a top-level name prefix: "/lib" matches /lib, /lib64, /libx32, ... and below */
  prefix?: boolean;
  /** only the path itself (its contents are fine) */
  only?: boolean;
  /** exceptions below `under` (the path itself or below them) */
  except?: (segments: string[]) => boolean;
  why: string;
  /** what kind of place it is; default "a system location" */
  label?: string;
}

const distro = (dir: string): string => `${dir} belongs to the distribution and its packages`;
const ITSELF = (dir: string, why: string): Place => ({ under: dir, only: true, why });

/** System locations a lab path must not be, or be inside. First match wins. */
function systemPlaces(stack: string): Place[] {
  const own = `${LAB_RUN_ROOT}/${stack}`;
  return [
    ITSELF("/", "the root directory"),
    { under: "/etc", why: "the system's configuration (/etc) and what is under it" },
    {
      under: "/usr",
      except: (s) => s[1] === "local" && s.length >= 4 && s[2] !== "bin" && s[2] !== "sbin",
      why: `${distro("/usr")}; only /usr/local/<dir>/... is the admin's (not /usr/local/bin, /usr/local/sbin)`,
    },
    { under: "/bin", why: distro("/bin") },
    { under: "/sbin", why: distro("/sbin") },
    { under: "/lib", prefix: true, why: distro("/lib*") },
    { under: "/boot", why: "the kernel and boot loader (/boot)" },
    { under: "/proc", why: "the kernel's process and sysctl files (/proc)" },
    { under: "/sys", why: "the kernel's device and tuning files (/sys)" },
    {
      under: "/dev",
      except: (s) => s.length >= 2 && (s[1] as string).startsWith("hugepages"),
      why: "device nodes (/dev; only /dev/hugepages* mounts may hold lab files)",
    },
    { under: "/var/lib/dpkg", why: "the package manager's state (/var/lib/dpkg)" },
    { under: "/var/lib/apt", why: "the package manager's state (/var/lib/apt)" },
    { under: "/var/run", why: "a symlink to /run: write the /run/... path" },
    { under: "/var/lock", why: "a symlink to /run/lock" },
    {
      under: LAB_STATE_ROOT,
      why: `the stacks' records of what they changed (${LAB_STATE_ROOT}/<stack>)`,
      label: "a place of the project's own",
    },
    {
      under: LAB_CACHE_ROOT,
      why: `the build cache all stacks share (${LAB_CACHE_ROOT})`,
      label: "a place of the project's own",
    },
    { ...ITSELF(own, `this stack's run dir (${own}) itself: put files inside it`), label: "a directory" },
    {
      under: LAB_RUN_ROOT,
      except: (s) => s.length >= 4 && s[2] === stack,
      why:
        `it holds the run dirs of all stacks (${LAB_RUN_ROOT}/<stack>); this stack's files go into ` +
        `${LAB_RUN_ROOT}/{stack}/ (here ${own}/), which its teardown removes`,
      label: "a place shared by all stacks",
    },
    ...[
      "/usr/local",
      "/var",
      "/var/lib",
      "/var/cache",
      "/var/log",
      "/var/tmp",
      "/var/spool",
      "/run",
      "/run/lock",
      "/run/user",
      "/tmp",
      "/home",
      "/root",
      "/opt",
      "/srv",
      "/mnt",
      "/media",
      "/lost+found",
    ].map((d) => ITSELF(d, `a system directory (${d}) itself: use a directory of the lab's own inside it`)),
  ];
}

/** Well-known files outside the system directories above that a lab file must not replace. */
const SYSTEM_FILES = ["/vmlinuz", "/vmlinuz.old", "/initrd.img", "/initrd.img.old", "/swapfile", "/swap.img"];

/**
 * Why `p` is not usable as a lab path on a host, or undefined when it is.
 * @param p a concrete path (templates resolved)
 * @param stack the Pulumi stack name (this stack's run dir is /run/vhost-perf-lab/<stack>)
 */
export function hostPathProblem(p: string, kind: HostPathKind, stack: string): PathProblem | undefined {
  const example = EXAMPLE[kind];
  if (p === "") return { reason: "an empty path", fix: `give an absolute path, e.g. ${example}` };
  const t = textProblem(p, example);
  if (t) return t;
  if (!p.startsWith("/")) {
    return { reason: "a relative path (host paths are absolute)", fix: `start it at /, e.g. ${example}` };
  }
  const segments = p === "/" ? [""] : p.slice(1).split("/");
  if (p !== "/" && segments.some((s) => s === "")) {
    const clean = posix.normalize(p).replace(/(.)\/+$/, "$1");
    return { reason: "an empty segment (// or a trailing /)", fix: `write ${clean}` };
  }
  if (segments.some((s) => s === "." || s === "..")) {
    return {
      reason: "a . or .. segment (a lab path names its place directly, with no way out of it)",
      fix: `write the path without . and .. segments, e.g. ${example}`,
    };
  }
  const odd = Array.from(segments.join("")).find((c) => !SEGMENT_CHARS_RE.test(c));
  if (odd !== undefined) {
    return {
      reason: `character "${odd}" (${codePoint(odd)}) in it; lab paths use letters, digits and . _ - + @ % : = ~`,
      fix: `rename it, e.g. ${example}`,
    };
  }
  const place = systemPlaces(stack).find((pl) => {
    const inside = pl.prefix
      ? (segments[0] as string).startsWith(pl.under.slice(1))
      : p === pl.under || (pl.under !== "/" && p.startsWith(`${pl.under}/`));
    if (!inside || (pl.only && p !== pl.under)) return false;
    return !pl.except?.(segments);
  });
  if (place) {
    return {
      reason: `${place.label ?? "a system location"}: ${place.why}`,
      fix: `use a ${kind === "dir" ? "directory" : kind} of the lab's own, e.g. ${example}`,
    };
  }
  if (segments.includes(".ssh")) {
    return {
      reason: "inside a .ssh directory (SSH credentials)",
      fix: `use a path of the lab's own, e.g. ${example}`,
    };
  }
  if (kind !== "dir") {
    const home = /^\/(root|home\/[^/]+)\/\.[^/]+$/.test(p);
    if (SYSTEM_FILES.includes(p) || home) {
      return {
        reason: `a system file (${home ? "a user's shell or tool configuration" : "kernel, initrd or swap"})`,
        fix: `use a file of the lab's own, e.g. ${example}`,
      };
    }
  }
  return undefined;
}

/**
 * Why `p` is not usable as a directory shipped with the project (qemu.patchDir: relative to the
 * repo, passed to tar and the build), or undefined when it is. "" (no patches) is the caller's case.
 */
export function repoPathProblem(p: string): PathProblem | undefined {
  const example = "patches/qemu-7.2";
  const t = textProblem(p, example);
  if (t) return t;
  const segments = p.split("/");
  if (p.startsWith("/") || segments[0] === "~" || segments.includes("..")) {
    return {
      reason: `it must be relative and stay inside the project (${p.startsWith("/") ? "absolute" : segments.includes("..") ? "a .. segment" : "~ is the home directory"})`,
      fix: `give the directory relative to the project root, e.g. ${example}, or "" for no patches`,
    };
  }
  return undefined;
}

/** The stack name a stack file's name carries ("Pulumi.perf.yaml" -> "perf"), if it has one. */
export function stackFromFileName(file: string): string | undefined {
  return /(?:^|[/\\])Pulumi\.([^/\\]+)\.ya?ml$/.exec(file)?.[1];
}
