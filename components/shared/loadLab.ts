import * as pulumi from "@pulumi/pulumi";
import { parseLab, formatErrors, NAMESPACE, type Lab } from "../../lib/lab";

/**
 * The stack's lab, validated before any resource is registered: every error of the config,
 * with its path and fix, in one message.
 */
export function loadLab(): Lab {
  const prefix = `${NAMESPACE}:`;
  const config: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(pulumi.runtime.allConfig())) {
    if (!key.startsWith(prefix)) continue;
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string value
    }
    config[key.slice(prefix.length)] = value;
  }
  const result = parseLab(config, `Pulumi.${pulumi.getStack()}.yaml`, { stack: pulumi.getStack() });
  if (!result.ok) {
    throw new pulumi.RunError(`the lab config has errors:\n${formatErrors(result.errors)}`);
  }
  return result.lab;
}
