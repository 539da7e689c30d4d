package export

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DownloadPath is the API route behind every download link we hand out.
const DownloadPath = "/api/v1/rooms.export.download"

// LinkSigner makes and checks the download links of SPEC §5. Rocket.Chat
// hands out the storage's own presigned URL, which dies with the credentials
// that signed it; our link points at our API, is signed with our key, and
// lives for its whole advertised lifetime. The API then redirects to a
// freshly presigned object URL.
type LinkSigner struct {
	Key []byte
}

func (s LinkSigner) sig(exportID string, expires int64) string {
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte("rooms-export-link\x00" + exportID + "\x00" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Link returns the signed download URL of an export, valid until expires.
func (s LinkSigner) Link(base, exportID string, expires time.Time) string {
	exp := expires.Unix()
	q := url.Values{}
	q.Set("exportId", exportID)
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("sig", s.sig(exportID, exp))
	return strings.TrimRight(base, "/") + DownloadPath + "?" + q.Encode()
}

// Verify checks a link's parameters: the signature must match (compared in
// constant time) and the link must not have expired at now.
func (s LinkSigner) Verify(exportID, expires, sig string, now time.Time) (ok, expired bool) {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || exportID == "" {
		return false, false
	}
	if !hmac.Equal([]byte(sig), []byte(s.sig(exportID, exp))) {
		return false, false
	}
	if now.Unix() > exp {
		return false, true
	}
	return true, false
}
