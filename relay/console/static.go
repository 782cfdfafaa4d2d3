package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

//go:embed static templates
var files embed.FS

// staticFiles are the style sheet and script, with a version from their
// content so that pages can let browsers keep them for a year.
type staticFiles struct {
	data    map[string][]byte
	version string
}

func newStaticFiles() (*staticFiles, error) {
	s := &staticFiles{data: map[string][]byte{}}
	h := sha256.New()
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		s.data[e.Name()] = b
		h.Write(b)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	return s, nil
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, ok := c.static.data[name]
	if !ok {
		c.notFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	if r.URL.Query().Get("v") == c.static.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(b)
}
