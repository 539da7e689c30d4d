package s3store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// stateVersion is the version of the upload state format.
const stateVersion = 1

// stateDoc is an upload's state as Persisted returns it: JSON, with the
// confirmed parts packed (base64 in the JSON) so that the state stays near
// 21 bytes of parts per part — about 3.5 KB per GB with 8 MiB parts, small
// enough to ride in the job's DynamoDB item. Part numbers are implied (the
// i-th packed part is part i+1) and so are sizes: only full parts of
// PartSize are ever persisted, so N is len(parts) × PartSize.
type stateDoc struct {
	V        int    `json:"v"`
	Key      string `json:"key"`
	UploadID string `json:"upload,omitempty"` // empty before the multipart upload exists
	PartSize int    `json:"partSize"`
	N        int64  `json:"n"`
	Parts    []byte `json:"parts,omitempty"`
}

// resumeState is a decoded, checked state.
type resumeState struct {
	UploadID string
	PartSize int
	parts    []types.CompletedPart
}

// Flags of a packed part.
const (
	// partMD5ETag: the ETag is S3's usual quoted 32 lower-case hex digits,
	// packed as the 16 bytes they spell; otherwise it is a uvarint length
	// and the ETag's bytes.
	partMD5ETag = 1 << iota
	// partCRCRaw: the CRC32 checksum is the standard base64 of 4 bytes,
	// packed as those bytes.
	partCRCRaw
	// partCRCText: the checksum is some other text, packed as a uvarint
	// length and its bytes. Neither CRC flag: the part has no checksum (an
	// emulator that computes none).
	partCRCText
	partFlags = partMD5ETag | partCRCRaw | partCRCText
)

// encodeState encodes the state of an upload whose confirmed full parts are
// parts.
func encodeState(key, uploadID string, partSize int, parts []types.CompletedPart) []byte {
	doc := stateDoc{V: stateVersion, Key: key, UploadID: uploadID, PartSize: partSize, N: int64(len(parts)) * int64(partSize)}
	if len(parts) > 0 {
		doc.Parts = packParts(parts)
	}
	b, _ := json.Marshal(doc) // marshalling strings, integers and bytes cannot fail
	return b
}

// decodeState parses a Persisted state and checks it belongs to key and
// holds together.
func decodeState(state []byte, key string) (resumeState, error) {
	var doc stateDoc
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return resumeState{}, fmt.Errorf("invalid upload state: %w", err)
	}
	if dec.More() {
		return resumeState{}, errors.New("invalid upload state: trailing data")
	}
	bad := func(format string, args ...any) (resumeState, error) {
		return resumeState{}, fmt.Errorf("invalid upload state: "+format, args...)
	}
	switch {
	case doc.V != stateVersion:
		return bad("version %d, want %d", doc.V, stateVersion)
	case doc.Key != key:
		return bad("it is another key's")
	case doc.PartSize < MinPartSize || doc.PartSize > MaxPartSize:
		return bad("part size %d is outside S3's [%d, %d]", doc.PartSize, MinPartSize, MaxPartSize)
	case doc.UploadID == "" && (doc.N != 0 || len(doc.Parts) != 0):
		return bad("parts without an upload id")
	}
	parts, err := unpackParts(doc.Parts)
	if err != nil {
		return bad("%v", err)
	}
	switch {
	case len(parts) > MaxParts:
		return bad("%d parts, more than S3's %d", len(parts), MaxParts)
	case doc.N != int64(len(parts))*int64(doc.PartSize):
		return bad("%d bytes in %d parts of %d", doc.N, len(parts), doc.PartSize)
	}
	return resumeState{UploadID: doc.UploadID, PartSize: doc.PartSize, parts: parts}, nil
}

// packParts packs parts (numbered 1, 2, ...) as described by the part flags.
func packParts(parts []types.CompletedPart) []byte {
	b := make([]byte, 0, 21*len(parts))
	for _, p := range parts {
		etag, crc := aws.ToString(p.ETag), p.ChecksumCRC32
		var flags byte
		md5, isMD5 := md5ETag(etag)
		if isMD5 {
			flags |= partMD5ETag
		}
		raw, isRaw := rawCRC(crc)
		switch {
		case isRaw:
			flags |= partCRCRaw
		case crc != nil:
			flags |= partCRCText
		}
		b = append(b, flags)
		if isMD5 {
			b = append(b, md5...)
		} else {
			b = binary.AppendUvarint(b, uint64(len(etag)))
			b = append(b, etag...)
		}
		switch {
		case isRaw:
			b = append(b, raw...)
		case crc != nil:
			b = binary.AppendUvarint(b, uint64(len(*crc)))
			b = append(b, *crc...)
		}
	}
	return b
}

// unpackParts reverses packParts.
func unpackParts(b []byte) ([]types.CompletedPart, error) {
	var parts []types.CompletedPart
	for len(b) > 0 {
		n := len(parts) + 1
		flags := b[0]
		b = b[1:]
		if flags&^partFlags != 0 || flags&partCRCRaw != 0 && flags&partCRCText != 0 {
			return nil, fmt.Errorf("part %d: unknown flags %#x", n, flags)
		}
		var etag string
		if flags&partMD5ETag != 0 {
			if len(b) < 16 {
				return nil, fmt.Errorf("part %d: truncated", n)
			}
			etag = `"` + hex.EncodeToString(b[:16]) + `"`
			b = b[16:]
		} else {
			s, rest, err := lengthPrefixed(b)
			if err != nil || s == "" {
				return nil, fmt.Errorf("part %d: malformed ETag", n)
			}
			etag, b = s, rest
		}
		var crc *string
		switch {
		case flags&partCRCRaw != 0:
			if len(b) < 4 {
				return nil, fmt.Errorf("part %d: truncated", n)
			}
			crc = aws.String(base64.StdEncoding.EncodeToString(b[:4]))
			b = b[4:]
		case flags&partCRCText != 0:
			s, rest, err := lengthPrefixed(b)
			if err != nil {
				return nil, fmt.Errorf("part %d: malformed checksum", n)
			}
			crc, b = aws.String(s), rest
		}
		parts = append(parts, completedPart(n, etag, crc))
	}
	return parts, nil
}

// lengthPrefixed splits a uvarint length and that many bytes off b.
func lengthPrefixed(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errors.New("truncated")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// md5ETag returns the 16 bytes a quoted 32-digit lower-case hex ETag spells.
func md5ETag(etag string) ([]byte, bool) {
	if len(etag) != 34 || etag[0] != '"' || etag[33] != '"' {
		return nil, false
	}
	digits := etag[1:33]
	b, err := hex.DecodeString(digits)
	if err != nil || hex.EncodeToString(b) != digits {
		return nil, false
	}
	return b, true
}

// rawCRC returns the 4 bytes a base64 CRC32 checksum encodes, when it
// encodes exactly them in the canonical form.
func rawCRC(crc *string) ([]byte, bool) {
	if crc == nil {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(*crc)
	if err != nil || len(b) != 4 || base64.StdEncoding.EncodeToString(b) != *crc {
		return nil, false
	}
	return b, true
}
