/**
 * The inputs of scripts/vm.sh (environment variables) computed from a VmSpec, so the argv, the
 * file names in it and what the script checks can never drift apart.
 */
import { buildQemuArgv } from "./argv";
import { resolveVmSpec } from "./validate";
import { encodeArgv } from "./transport";
import type { VmSpec } from "./types";
import { guestFrameOptions } from "../lab/frames";

export const GUEST_TESTPMD_MODES = ["off", "io", "mac"] as const;
/** What scripts/vm.sh starts inside the guest on the virtio NICs: nothing, or testpmd io/mac. */
export type GuestTestpmdMode = (typeof GUEST_TESTPMD_MODES)[number];

export interface VmScriptOptions {
  /** the deployed guest image, backing file of the overlay (never written) */
  baseImage: string;
  /** format of the base image; default qcow2 */
  baseFormat?: "qcow2" | "raw";
  /** path of the uploaded guest-agent client (scripts/guest-image/qga.py) on the host */
  qgaPy: string;
  /** path of the uploaded QMP client (scripts/qmp.py) on the host */
  qmpPy: string;
  /** seconds until the agent must answer; default 300 under TCG, 120 under KVM */
  bootTimeoutS?: number;
  /** default "off" */
  guestTestpmd?: GuestTestpmdMode;
  /** 2 MiB pages reserved in the guest for its testpmd; default 256 */
  guestHugepages?: number;
  /**
   * the largest frame (bytes incl. FCS) the guest testpmd must forward; above 1518 it gets
   * --max-pkt-len / --mbuf-size / --total-num-mbufs (lib/lab/frames.ts guestFrameOptions)
   */
  guestMaxFrame?: number;
  /** keep the console and launch logs at stop; default false */
  keepLogs?: boolean;
}

/** Interface names the guest's udev rules give: mgmt0 for the e1000, virtio0.. for vhost-user NICs. */
export function expectedGuestNics(spec: VmSpec): string[] {
  return ["mgmt0", ...spec.vhostUser.map((_, i) => `virtio${i}`)];
}

/** Environment for `bash -s -- start|stop|status` with scripts/vm.sh on stdin. */
export function vmScriptEnv(spec: VmSpec, opts: VmScriptOptions): Record<string, string> {
  const s = resolveVmSpec(spec);
  const argv = buildQemuArgv(spec);
  const frame = guestFrameOptions(opts.guestMaxFrame ?? 1518);
  return {
    VM_NAME: s.name,
    VM_RUN_DIR: s.paths.runDir,
    VM_ARGV_B64: encodeArgv(argv),
    VM_BASE_IMAGE: opts.baseImage,
    VM_BASE_FORMAT: opts.baseFormat ?? "qcow2",
    VM_OVERLAY: s.diskImage,
    VM_QGA_SOCKET: s.paths.qgaSocket,
    VM_QMP_SOCKET: s.paths.qmpSocket,
    VM_PIDFILE: s.paths.pidfile,
    VM_CONSOLE_LOG: s.paths.consoleLog,
    VM_BOOT_TIMEOUT: String(opts.bootTimeoutS ?? (s.accel === "tcg" ? 300 : 120)),
    VM_GUEST_NICS: expectedGuestNics(spec).join(" "),
    VM_GUEST_TESTPMD: opts.guestTestpmd ?? "off",
    VM_GUEST_HUGEPAGES: String(opts.guestHugepages ?? 256),
    ...(frame.maxPktLen !== undefined ? { VM_GUEST_MAX_PKT_LEN: String(frame.maxPktLen) } : {}),
    ...(frame.mbufSize !== undefined ? { VM_GUEST_MBUF_SIZE: String(frame.mbufSize) } : {}),
    ...(frame.totalMbufs !== undefined ? { VM_GUEST_MBUFS: String(frame.totalMbufs) } : {}),
    VM_KEEP_LOGS: opts.keepLogs ? "1" : "0",
    QGA_PY: opts.qgaPy,
    QMP_PY: opts.qmpPy,
  };
}
