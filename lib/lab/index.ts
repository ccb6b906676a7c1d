/**
 * The lab model: typed, validated stack config (pure: no Pulumi imports).
 *
 *   const r = parseLab(config, "Pulumi.perf.yaml");   // config keys without "vhost-perf-lab:"
 *   if (!r.ok) throw new Error(formatErrors(r.errors));
 *   r.lab.hosts[0].cpus.vswitch                       // [2]
 */
export { parseLab, TOP_KEYS, expandSocketTemplate } from "./parse";
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
export { fileWarnings } from "./files";
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
  SOCKET_TEMPLATES,
  VRING_MIN,
  VRING_MAX,
  IMIX_MEAN_BYTES,
  MANAGED_PRIVATE_KEY,
  MANAGED_HOST_KEY,
  defaultsFor,
} from "./defaults";
