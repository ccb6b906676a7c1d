/** Public surface of the measurement core (pure: no Pulumi, no I/O beyond TrafficGenerator). */
export * from "./units";
export * from "./trafficGenerator";
export { measureMrr, MRR_DEFAULTS, type MrrConfig, type MrrResult, type MrrTrialResult } from "./mrr";
export * from "./mlrsearch";
export { runBinarySearch, type BinarySearchConfig, type BinarySearchResult } from "./binarySearch";
export { SimulatedDevice, trueThroughput, type DeviceModel } from "./simulatedDevice";
