//go:build tools

// Package tools records the command this module builds, so that go.mod and go.sum pin it.
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
