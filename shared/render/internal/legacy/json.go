package legacy

import (
	"encoding/json"
	"io"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// jsonMessage is one line of the JSON document. Field order is the key order:
// Rocket.Chat's getMessageData keys first (msg, username, ts, attachments,
// type), then this project's additions.
type jsonMessage struct {
	Msg         string                   `json:"msg"`
	Username    string                   `json:"username"`
	TS          string                   `json:"ts"`
	Attachments []jsonAttachment         `json:"attachments,omitempty"`
	Type        string                   `json:"type,omitempty"`
	ID          string                   `json:"_id"`
	ThreadID    string                   `json:"tmid,omitempty"`
	EditedAt    string                   `json:"editedAt,omitempty"`
	Reactions   map[string]chat.Reaction `json:"reactions,omitempty"` // encoding/json sorts the keys
	Files       []jsonFile               `json:"files,omitempty"`
}

// jsonAttachment is one attachment: chat.Attachment's keys in its order,
// with ts written like every other date of the line.
type jsonAttachment struct {
	Title       string           `json:"title,omitempty"`
	TitleLink   string           `json:"title_link,omitempty"`
	Text        string           `json:"text,omitempty"`
	Description string           `json:"description,omitempty"`
	AuthorName  string           `json:"author_name,omitempty"`
	MessageLink string           `json:"message_link,omitempty"`
	ImageURL    string           `json:"image_url,omitempty"`
	Type        string           `json:"type,omitempty"`
	TS          string           `json:"ts,omitempty"`
	Attachments []jsonAttachment `json:"attachments,omitempty"`
}

// jsonFile is one entry of "files": always all four keys.
type jsonFile struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// jsonDoc is the newline-delimited JSON document.
type jsonDoc struct {
	stream
	enc *json.Encoder
}

// NewJSON returns a Document that writes one JSON object per line, as
// Rocket.Chat's JSON export does (its "<room name>.json" entry), with no
// header or footer line: the manifest describes the export. Timestamps are
// always UTC; HTML-sensitive characters, control characters and U+2028/9 are
// escaped, so a line is safe to embed anywhere.
func NewJSON(w io.Writer) Document {
	d := &jsonDoc{stream: stream{kind: "json", w: w}}
	d.enc = json.NewEncoder(&d.buf)
	return d
}

// Begin starts the document; the JSON document has no header line.
func (d *jsonDoc) Begin(Header) error {
	if err := d.check("begin", true); err != nil {
		return err
	}
	d.begun = true
	return nil
}

// Message writes one line.
func (d *jsonDoc) Message(m chat.Message) error {
	if err := d.check("message", false); err != nil {
		return err
	}
	if err := d.enc.Encode(toJSON(m)); err != nil {
		return d.fail("encode message "+m.ID, err)
	}
	return d.flush("message " + m.ID)
}

// End finishes the document; the JSON document has no footer line.
func (d *jsonDoc) End(int64) error {
	if err := d.check("end", false); err != nil {
		return err
	}
	d.ended = true
	return nil
}

// toJSON maps a stored message to its exported line.
func toJSON(m chat.Message) jsonMessage {
	j := jsonMessage{
		Msg:         m.Msg,
		Username:    m.U.Username,
		TS:          formatTS(m.TS),
		Attachments: jsonAttachments(m.Attachments),
		Type:        m.Type,
		ID:          m.ID,
		ThreadID:    m.ThreadID,
	}
	if m.EditedAt != nil {
		j.EditedAt = formatTS(*m.EditedAt)
	}
	if len(m.Reactions) > 0 {
		j.Reactions = make(map[string]chat.Reaction, len(m.Reactions))
		for k, r := range m.Reactions {
			if r.Usernames == nil {
				r.Usernames = []string{}
			}
			j.Reactions[k] = r
		}
	}
	for _, f := range m.AllFiles() {
		j.Files = append(j.Files, jsonFile(f))
	}
	return j
}

// jsonAttachments maps attachments with their timestamps in the line's one
// format (UTC, three fraction digits); the caller's slice is not modified.
func jsonAttachments(in []chat.Attachment) []jsonAttachment {
	if len(in) == 0 {
		return nil
	}
	out := make([]jsonAttachment, len(in))
	for i, a := range in {
		out[i] = jsonAttachment{
			Title: a.Title, TitleLink: a.TitleLink, Text: a.Text, Description: a.Description,
			AuthorName: a.AuthorName, MessageLink: a.MessageLink, ImageURL: a.ImageURL, Type: a.Type,
			Attachments: jsonAttachments(a.Attachments),
		}
		if a.TS != nil {
			out[i].TS = formatTS(*a.TS)
		}
	}
	return out
}
