package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// file is an uploaded file: its rocketchat_uploads record and its bytes.
type file struct {
	upload chat.Upload
	data   []byte
}

// ref is the message.file / message.files[] entry pointing at the file.
func (f file) ref() chat.FileRef {
	return chat.FileRef{ID: f.upload.ID, Name: f.upload.Name, Type: f.upload.Type, Size: f.upload.Size}
}

// newFile makes the upload record for data: the id derives from the name, the
// bytes live under uploads/<id>.
func newFile(rid, name, contentType string, data []byte) file {
	id := makeID("upload", rid, name)
	return file{
		upload: chat.Upload{ID: id, RoomID: rid, Name: name, Type: contentType, Size: int64(len(data)), StorageKey: "uploads/" + id},
		data:   data,
	}
}

// demoFiles are the uploaded files, each a real, valid file of its type. One
// has a name that tries to leave the archive folder and one a non-ASCII name.
type demoFiles struct {
	logo, spec, evil, budget, notes, config, diagram, readme, resume file
}

func (d demoFiles) all() []file {
	return []file{d.logo, d.spec, d.evil, d.budget, d.notes, d.config, d.diagram, d.readme, d.resume}
}

func makeFiles() (demoFiles, error) {
	logo, err := makePNG(48, 48, color.RGBA{0xf5, 0x45, 0x5c, 0xff}, color.RGBA{0x1d, 0x74, 0xf5, 0xff})
	if err != nil {
		return demoFiles{}, err
	}
	diagram, err := makePNG(64, 32, color.RGBA{0x2d, 0xe0, 0xa5, 0xff}, color.RGBA{0x1f, 0x23, 0x29, 0xff})
	if err != nil {
		return demoFiles{}, err
	}
	config, err := json.MarshalIndent(map[string]any{
		"service":   "rooms-export",
		"region":    "eu-central-1",
		"retention": map[string]int{"days": 7},
		"features":  []string{"html", "json", "email"},
		"owner":     "李雷",
	}, "", "  ")
	if err != nil {
		return demoFiles{}, fmt.Errorf("encode config.json: %w", err)
	}
	return demoFiles{
		logo:    newFile(GeneralRoomID, "rocket-logo.png", "image/png", logo),
		spec:    newFile(GeneralRoomID, "release-2.0-spec.pdf", "application/pdf", makePDF("Release 2.0 specification")),
		evil:    newFile(GeneralRoomID, "../../evil<script>.txt", "text/plain", []byte("This file's name tries to climb out of the export folder.\n")),
		budget:  newFile(ProjectRoomID, "budget-2021.csv", "text/csv", []byte(budgetCSV)),
		notes:   newFile(ProjectRoomID, "meeting-notes.txt", "text/plain", []byte(meetingNotes)),
		config:  newFile(TeamRoomID, "config.json", "application/json", append(config, '\n')),
		diagram: newFile(TeamRoomID, "diagram.png", "image/png", diagram),
		readme:  newFile(TeamRoomID, "README.md", "text/markdown", []byte(readme)),
		resume:  newFile(DirectRoomID, "Résumé 李雷.txt", "text/plain", []byte("李雷 — Résumé\nSoftware engineer, Beijing → Berlin.\n")),
	}, nil
}

// makePNG draws a w×h diagonal gradient from a to b. It is stored without
// compression so that its bytes do not depend on the compressor's version.
func makePNG(w, h int, a, b color.RGBA) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			t := (x + y) * 255 / (w + h - 2)
			mix := func(p, q uint8) uint8 { return uint8((int(p)*(255-t) + int(q)*t) / 255) }
			img.SetRGBA(x, y, color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// makePDF builds a one-page PDF 1.4 document showing title, with a correct
// cross-reference table.
func makePDF(title string) []byte {
	content := fmt.Sprintf("BT /F1 18 Tf 24 60 Td (%s) Tj ET", title)
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 140] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return []byte(b.String())
}

const budgetCSV = `item,owner,q1,q2,q3,q4,note
Cloud hosting,bob,1200.50,1250.00,1300.00,1320.75,"eu-central-1, on-demand"
Design agency,alice,5000,0,2500,0,"Logo, ""brand book"" and icons"
Conferences,zoë,0,1800,0,2200,Berlin & Kraków
Hardware,李雷,3000,0,0,1500,笔记本电脑
Spreadsheet check,eve,=1+1,0,0,0,must stay text
`

const meetingNotes = `Phoenix weekly — 2021-03-04

Attendees: Bob, Alice, Admin
* Budget approved (see budget-2021.csv)
* Launch moved to Q3; Zoë to confirm with Ørjan
* Action: Alice drafts the café announcement — "Grüße aus Köln"

Next meeting: Thursday 10:00 UTC
`

const readme = "# Engineering\n\n" +
	"Run `make test` before pushing.\n\n" +
	"```sh\nsam build && sam deploy\n```\n\n" +
	"> On-call: see #engineering, ping @lilei.\n"
