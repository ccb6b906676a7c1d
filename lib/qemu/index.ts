/**
 * lib/qemu: the QEMU option set of a CSIT-style vhost-user VM, as a pure module (no Pulumi, no I/O).
 *
 *   const argv = buildQemuArgv(spec);          // string[]; argv[0] = qemuBinary
 *   const env = vmScriptEnv(spec, { ... });    // inputs of scripts/vm.sh, incl. VM_ARGV_B64
 */
export * from "./types";
export * from "./errors";
export {
  vhostUserMac,
  mgmtMac,
  vhostUserIds,
  virtioQomPath,
  vmPaths,
  vcpuThreadNames,
  VCPU_THREAD_NAME,
  optValue,
} from "./names";
export {
  validateVmSpec,
  resolveVmSpec,
  isValidQueueSize,
  DEFAULT_QUEUE_SIZE,
  MIN_QUEUE_SIZE,
  MAX_QUEUE_SIZE,
  DEFAULT_TCG_CPU_MODEL,
  DEFAULT_HUGEPAGE_SIZE_MIB,
  MAX_QUEUES,
  MAX_VCPUS,
  MAX_SOCKET_PATH_BYTES,
} from "./validate";
export {
  buildQemuArgv,
  qemuArgGroups,
  formatQemuCommand,
  machineArgs,
  identityArgs,
  memoryArgs,
  defaultsArgs,
  diskArgs,
  mgmtArgs,
  vhostUserArgs,
  virtioNetDeviceProps,
  serialArgs,
  controlArgs,
} from "./argv";
export { encodeArgv, decodeArgv } from "./transport";
export { vmScriptEnv, expectedGuestNics, GUEST_TESTPMD_MODES } from "./script";
export type { VmScriptOptions, GuestTestpmdMode } from "./script";
