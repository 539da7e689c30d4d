package localfs

import (
	"crypto/hmac"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// filesPrefix is the path the handler serves objects under.
const filesPrefix = "/files/"

// Handler serves the links PresignGet makes: GET and HEAD of
// /files/<key>?expires=&name=&sig= (mount it at "/files/" without stripping
// the prefix). A bad signature or an expired link gets 403, a missing object
// 404, each with a short plain-text body; otherwise the object is streamed
// as an attachment named by the link, with range requests honoured. This is
// the local stand-in for an S3 presigned GET; now is the clock links are
// checked against.
func (s *Store) Handler(now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "private, no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, filesPrefix)
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		name := q.Get("name")
		expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.sign(key, expires, name))) {
			http.Error(w, "invalid link", http.StatusForbidden)
			return
		}
		if now().After(time.Unix(expires, 0)) {
			http.Error(w, "link expired", http.StatusForbidden)
			return
		}
		o, err := s.openObject(r.Context(), key)
		if errors.Is(err, chat.ErrNotFound) || errors.Is(err, ErrInvalidKey) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if err != nil {
			slog.ErrorContext(r.Context(), "localfs: serve file", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer o.Close()
		name = chat.SafeName(name, path.Base(key))
		h.Set("Content-Type", contentType(name, key))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		// An HTML export opened from the link must not run as our origin.
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		http.ServeContent(w, r, "", o.modTime, o)
	})
}

// contentType is the type for the offered file name's extension (the key's
// when the name has none): application/zip for ".zip", the system's table
// otherwise, application/octet-stream when nothing is known.
func contentType(name, key string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		ext = strings.ToLower(path.Ext(key))
	}
	switch ext {
	case "":
		return "application/octet-stream"
	case ".zip":
		return "application/zip"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
