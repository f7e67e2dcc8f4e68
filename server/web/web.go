// Package web holds the job server's page: plain HTML, CSS and JavaScript
// embedded in the binary, with no build step and nothing from a CDN. The
// page reads the server's JSON API (/v1/...) and refreshes itself.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page at / and its assets.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}
