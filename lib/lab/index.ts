/**
 * The lab model: typed, validated stack config (pure: no Pulumi imports).
 *
 *   const r = parseLab(config, "Pulumi.perf.yaml");   // config keys without "vhost-perf-lab:"
 *   if (!r.ok) throw new Error(formatErrors(r.errors));
 *   r.lab.hosts[0].cpus.vswitch                       // [2]
 */
export { parseLab, TOP_KEYS, expandSocketTemplate, socketPath, SOCKET_PLACEHOLDERS } from "./parse";
export type { ParseResult } from "./parse";
export type { ParseOptions } from "./reader";
export { formatErrors, describe, NAMESPACE } from "./errors";
export type { LabError, FormatOptions } from "./errors";
export { loadStackFile, parseStackText, splitPath } from "./stackfile";
export { checkStackFile } from "./check";
export type { StackCheck } from "./check";
export type { LoadedStack } from "./stackfile";
export { labToConfig, labToStackYaml } from "./serialize";
export { formatSummary } from "./summary";
export { fileWarnings, fileErrors } from "./files";
export { parseHostKey, hostKeyScanCommand, HOST_KEY_TYPES } from "./hostKey";
export type { HostKey, HostKeyResult, HostKeyType, HostKeyOrigin } from "./hostKey";
export {
  hostPathProblem,
  repoPathProblem,
  stackFromFileName,
  STACK_NAME_RE,
  LAB_RUN_ROOT,
  LAB_STATE_ROOT,
  LAB_CACHE_ROOT,
} from "./paths";
export type { HostPathKind, PathProblem } from "./paths";
export { checkHostFacts, HUGEPAGE_HEADROOM_MIB } from "./hostFacts";
export type { HostFacts, HostFactsOptions } from "./hostFacts";
export { Secret, isSecureObject } from "./secret";
export { parseCpuList, formatCpuList } from "./cpuset";
export { nearest } from "./suggest";
export {
  expandMatrix,
  testName,
  frameTag,
  frameBytes,
  nicTag,
  vswitchCores,
  forwardingTag,
  lineRatePps,
  l1Bps,
  maxLoadPps,
  matrixBudgetS,
} from "./names";
export type { MatrixCell } from "./names";
export { duts } from "./checks";
export * from "./types";
export {
  CSIT_KERNEL_ARGS,
  DEFAULT_IMAGE_PATH,
  DEFAULT_STACK,
  SOCKET_TEMPLATES,
  VRING_MIN,
  VRING_MAX,
  IMIX_MEAN_BYTES,
  MANAGED_PRIVATE_KEY,
  MANAGED_HOST_KEY,
  defaultsFor,
} from "./defaults";
export { mgmtCable, mgmtEnv, type MgmtCable } from "./netnsHost";
export * from "./frames";
