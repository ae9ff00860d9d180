//go:build tools

// Pins the tool's module in go.mod/go.sum; install.sh builds its command.
package tools

import _ "github.com/fairwindsops/polaris"
