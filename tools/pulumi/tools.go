//go:build tools

// Package tools records the commands this module builds, so that go.mod and go.sum pin them.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
