package ui

import "embed"

// embedded holds everything the browser loads: the page, its script and
// its style sheet, written for this UI (no framework, no CDN), so the UI
// works in an air-gapped cluster.
//
//go:embed assets
var embedded embed.FS
