//go:build tools

// Package tools pins the Pulumi CLI so `go mod tidy` keeps its dependencies.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
)
