//go:build tools

// Package tools pins the upstream Node.js language host so `go mod tidy` keeps
// its dependencies (see go.mod for why sdk/v3 is at v3.68.0).
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
