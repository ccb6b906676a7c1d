package main

import (
	"encoding/json"
)

// schemaJSON describes the implemented subset of the package. The engine does
// not need it to run programs; it serves `pulumi package get-schema` and
// tooling. Written by hand for this provider.
func schemaJSON() string {
	str := map[string]any{"type": "string"}
	secretStr := map[string]any{"type": "string", "secret": true}
	boolean := map[string]any{"type": "boolean"}
	strList := map[string]any{"type": "array", "items": str}
	strMap := map[string]any{"type": "object", "additionalProperties": str}
	anyList := map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}}
	conn := map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true}

	connProps := func(withProxy bool) map[string]any {
		p := map[string]any{
			"host":               str,
			"port":               map[string]any{"type": "number", "default": defaultPort},
			"user":               map[string]any{"type": "string", "default": defaultUser},
			"password":           secretStr,
			"privateKey":         secretStr,
			"privateKeyPassword": secretStr,
			"agentSocketPath":    str,
			"dialErrorLimit":     map[string]any{"type": "integer", "default": defaultDialErrorLimit},
			"perDialTimeout":     map[string]any{"type": "integer", "default": defaultPerDialTimeout},
			"hostKey":            str,
		}
		if withProxy {
			p["proxy"] = map[string]any{"$ref": "#/types/command:remote:ProxyConnection"}
		}
		return p
	}
	commandInputs := func(remote bool) map[string]any {
		p := map[string]any{
			"create":                 str,
			"update":                 str,
			"delete":                 str,
			"environment":            strMap,
			"stdin":                  str,
			"triggers":               anyList,
			"addPreviousOutputInEnv": boolean,
			"logging":                map[string]any{"$ref": "#/types/command:common:Logging"},
		}
		if remote {
			p["connection"] = conn
		} else {
			p["dir"] = str
			p["interpreter"] = strList
		}
		return p
	}
	withOutputs := func(in map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range in {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	stdio := map[string]any{"stdout": str, "stderr": str}
	copyInputs := map[string]any{
		"connection": conn,
		"source":     map[string]any{"oneOf": []any{map[string]any{"$ref": "pulumi.json#/Asset"}, map[string]any{"$ref": "pulumi.json#/Archive"}}},
		"remotePath": str,
		"triggers":   anyList,
	}

	s := map[string]any{
		"name":        "command",
		"version":     version,
		"description": "Run commands locally or over SSH (vhost-perf-lab's own implementation of a subset).",
		"types": map[string]any{
			"command:remote:Connection": map[string]any{
				"type": "object", "properties": connProps(true), "required": []string{"host", "hostKey"},
			},
			"command:remote:ProxyConnection": map[string]any{
				"type": "object", "properties": connProps(false), "required": []string{"host", "hostKey"},
			},
			"command:common:Logging": map[string]any{
				"type": "string",
				"enum": []any{
					map[string]any{"value": logStdout}, map[string]any{"value": logStderr},
					map[string]any{"value": logStdoutAndStderr}, map[string]any{"value": logNone},
				},
			},
		},
		"resources": map[string]any{
			tokLocalCommand: map[string]any{
				"inputProperties": commandInputs(false),
				"properties":      withOutputs(commandInputs(false), stdio),
				"required":        []string{"stdout", "stderr"},
			},
			tokRemoteCommand: map[string]any{
				"inputProperties": commandInputs(true),
				"requiredInputs":  []string{"connection"},
				"properties":      withOutputs(commandInputs(true), stdio),
				"required":        []string{"connection", "stdout", "stderr"},
			},
			tokCopyToRemote: map[string]any{
				"inputProperties": copyInputs,
				"requiredInputs":  []string{"connection", "source", "remotePath"},
				"properties":      copyInputs,
				"required":        []string{"connection", "source", "remotePath"},
			},
		},
		"functions": map[string]any{
			tokLocalRun: map[string]any{
				"inputs": map[string]any{
					"properties": withOutputs(map[string]any{"command": str}, map[string]any{
						"dir": str, "environment": strMap, "interpreter": strList, "stdin": str,
						"addPreviousOutputInEnv": boolean,
						"logging":                map[string]any{"$ref": "#/types/command:common:Logging"},
					}),
					"required": []string{"command"},
				},
				"outputs": map[string]any{
					"properties": withOutputs(map[string]any{"command": str}, stdio),
					"required":   []string{"command", "stdout", "stderr"},
				},
			},
		},
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
