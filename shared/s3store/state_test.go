package s3store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestStateRoundTrip(t *testing.T) {
	parts := []types.CompletedPart{
		completedPart(1, `"0123456789abcdef0123456789abcdef"`, aws.String("AAAAAA==")),
		completedPart(2, `"0123456789ABCDEF0123456789ABCDEF"`, aws.String("3q2+7w==")), // upper case: kept as text
		completedPart(3, `"d41d8cd98f00b204e9800998ecf8427e-2"`, nil),                  // not an MD5: kept as text
		completedPart(4, "unquoted-etag", aws.String("not base64!")),
		completedPart(5, `"ffffffffffffffffffffffffffffffff"`, aws.String("AAAA")), // base64 of 3 bytes: text
		completedPart(6, `"00000000000000000000000000000000"`, aws.String("")),
	}
	state := encodeState("exports/é.zip", "upload-1", MinPartSize, parts)
	got, err := decodeState(state, "exports/é.zip")
	if err != nil {
		t.Fatalf("decodeState: %v", err)
	}
	want := resumeState{UploadID: "upload-1", PartSize: MinPartSize, parts: parts}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got  %s\n want %s", dump(got.parts), dump(want.parts))
	}
	var doc stateDoc
	if err := json.Unmarshal(state, &doc); err != nil || doc.N != 6*MinPartSize {
		t.Errorf("state %s: n %d (%v), want %d", state, doc.N, err, 6*MinPartSize)
	}
}

func dump(parts []types.CompletedPart) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "[%d %q %v] ", aws.ToInt32(p.PartNumber), aws.ToString(p.ETag), aws.ToString(p.ChecksumCRC32))
	}
	return b.String()
}

// TestStateSize: with S3's usual MD5 ETags and CRC32 checksums, a part
// costs 21 packed bytes, 28 in the JSON: under 4 KB per GB with the default
// 8 MiB parts, and a 10 GiB export's state fits a DynamoDB item easily.
func TestStateSize(t *testing.T) {
	const gib = 1 << 30
	parts := make([]types.CompletedPart, 10*gib/DefaultPartSize)
	for i := range parts {
		parts[i] = completedPart(i+1, fmt.Sprintf(`"%032x"`, i*7919), aws.String("q83vEg=="))
	}
	state := encodeState("exports/room/2024-01-01-alice-abcdefghijklmnop.zip", "VXBsb2FkIElEIG9mIGEgbXVsdGlwYXJ0IHVwbG9hZCBmcm9tIFMz", DefaultPartSize, parts)
	if perGB := len(state) / 10; perGB > 4000 {
		t.Errorf("state of %d bytes for 10 GiB: %d bytes per GiB, want at most 4000", len(state), perGB)
	}
	got, err := decodeState(state, "exports/room/2024-01-01-alice-abcdefghijklmnop.zip")
	if err != nil || !reflect.DeepEqual(got.parts, parts) {
		t.Fatalf("decodeState of 1280 parts: %v", err)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	parts := []types.CompletedPart{completedPart(1, `"0123456789abcdef0123456789abcdef"`, aws.String("AAAAAA=="))}
	good := stateDoc{V: stateVersion, Key: "k", UploadID: "u", PartSize: MinPartSize, N: MinPartSize, Parts: packParts(parts)}
	edit := func(f func(*stateDoc)) []byte {
		d := good
		f(&d)
		b, _ := json.Marshal(d)
		return b
	}
	if _, err := decodeState(edit(func(*stateDoc) {}), "k"); err != nil {
		t.Fatalf("the unedited state is refused: %v", err)
	}
	bad := map[string][]byte{
		"other version":        edit(func(d *stateDoc) { d.V = 2 }),
		"other key":            edit(func(d *stateDoc) { d.Key = "k2" }),
		"small parts":          edit(func(d *stateDoc) { d.PartSize = 1 << 20; d.N = 1 << 20 }),
		"huge parts":           edit(func(d *stateDoc) { d.PartSize = MaxPartSize + 1 }),
		"length not parts":     edit(func(d *stateDoc) { d.N = MinPartSize + 1 }),
		"parts without upload": edit(func(d *stateDoc) { d.UploadID = "" }),
		"bytes without upload": edit(func(d *stateDoc) { d.UploadID, d.Parts = "", nil }),
		"unknown flags":        edit(func(d *stateDoc) { d.Parts = append([]byte{0x80}, d.Parts[1:]...) }),
		"both checksum flags":  edit(func(d *stateDoc) { d.Parts = append([]byte{partMD5ETag | partCRCRaw | partCRCText}, d.Parts[1:]...) }),
		"truncated etag":       edit(func(d *stateDoc) { d.Parts = d.Parts[:10] }),
		"truncated checksum":   edit(func(d *stateDoc) { d.Parts = d.Parts[:19] }),
		"empty text etag":      edit(func(d *stateDoc) { d.Parts = []byte{0, 0} }),
		"overlong text etag":   edit(func(d *stateDoc) { d.Parts = []byte{0, 9, 'a'} }),
		"bad checksum length":  edit(func(d *stateDoc) { d.Parts = []byte{partCRCText, 1, 'e', 5, 'x'} }),
		"unknown field":        []byte(`{"v":1,"key":"k","partSize":5242880,"n":0,"extra":true}`),
		"trailing data":        append(edit(func(*stateDoc) {}), []byte(` {}`)...),
		"not an object":        []byte(`"state"`),
		"nil":                  nil,
		"parts not base64":     []byte(`{"v":1,"key":"k","upload":"u","partSize":5242880,"n":5242880,"parts":"!!"}`),
		"negative length":      edit(func(d *stateDoc) { d.UploadID, d.Parts, d.N = "", nil, -MinPartSize }),
		"more parts than S3's": edit(func(d *stateDoc) {
			many := make([]types.CompletedPart, MaxParts+1)
			for i := range many {
				many[i] = parts[0]
			}
			d.Parts, d.N = packParts(many), (MaxParts+1)*MinPartSize
		}),
	}
	for name, state := range bad {
		if _, err := decodeState(state, "k"); err == nil {
			t.Errorf("%s: decodeState succeeded", name)
		}
	}
}
