// Package chat holds the domain of rooms-export: the Rocket.Chat records an
// export reads (users, tokens, rooms, subscriptions, messages, uploads), the
// export jobs it writes, and the error kinds every layer shares.
//
// Field meanings follow Rocket.Chat's MongoDB collections (users,
// rocketchat_room, rocketchat_subscription, rocketchat_message,
// rocketchat_uploads); JSON tags use Rocket.Chat's names so that records can
// be copied from a Rocket.Chat database with little translation.
package chat

import "time"

// Room types, as Rocket.Chat stores them in rocketchat_room.t.
const (
	RoomChannel = "c" // public channel
	RoomGroup   = "p" // private group
	RoomDirect  = "d" // direct message
	RoomLive    = "l" // livechat
)

// User mirrors the fields of Rocket.Chat's users collection that an export needs.
type User struct {
	ID       string   `json:"_id"`
	Username string   `json:"username"`
	Name     string   `json:"name,omitempty"`
	Emails   []string `json:"emails,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Active   bool     `json:"active"`
	Language string   `json:"language,omitempty"`
}

// DisplayName is the user's full name, or the username when there is none.
func (u User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

// Token types. Login tokens expire; personal access tokens never do.
const (
	TokenLogin    = "login"
	TokenPersonal = "personalAccessToken"
)

// Token is a stored API token. Only its hash is kept: base64(sha256(token)),
// standard encoding with padding, as Rocket.Chat's
// services.resume.loginTokens[].hashedToken.
type Token struct {
	Hash      string    `json:"hashedToken"`
	UserID    string    `json:"userId"`
	CreatedAt time.Time `json:"when"`
	Type      string    `json:"type,omitempty"` // TokenLogin (default) or TokenPersonal
	Name      string    `json:"name,omitempty"` // personal access token label
}

// Permission maps a permission id (e.g. "mail-messages") to the roles granted it.
type Permission struct {
	ID    string   `json:"_id"`
	Roles []string `json:"roles"`
}

// Room mirrors rocketchat_room.
type Room struct {
	ID        string   `json:"_id"`
	Type      string   `json:"t"`
	Name      string   `json:"name,omitempty"`
	FName     string   `json:"fname,omitempty"`
	Topic     string   `json:"topic,omitempty"`
	ParentID  string   `json:"prid,omitempty"` // set on discussions
	TeamID    string   `json:"teamId,omitempty"`
	Usernames []string `json:"usernames,omitempty"` // direct messages: the participants
}

// DisplayName is what a person calls the room: fname, then name, then the id.
func (r Room) DisplayName() string {
	switch {
	case r.FName != "":
		return r.FName
	case r.Name != "":
		return r.Name
	}
	return r.ID
}

// Subscription mirrors rocketchat_subscription: a user's membership of a room
// and the room-scoped roles (owner, moderator, leader) it carries.
type Subscription struct {
	RoomID string   `json:"rid"`
	UserID string   `json:"uid"`
	Roles  []string `json:"roles,omitempty"`
}

// UserRef is the author stamp Rocket.Chat puts on messages (message.u).
type UserRef struct {
	ID       string `json:"_id"`
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
}

// Message mirrors rocketchat_message.
type Message struct {
	ID           string              `json:"_id"`
	RoomID       string              `json:"rid"`
	TS           time.Time           `json:"ts"`
	Msg          string              `json:"msg"`
	U            UserRef             `json:"u"`
	Type         string              `json:"t,omitempty"`    // system-message type, e.g. "uj", "r"
	Role         string              `json:"role,omitempty"` // subscription-role-added/-removed: the role
	ThreadID     string              `json:"tmid,omitempty"`
	Attachments  []Attachment        `json:"attachments,omitempty"`
	File         *FileRef            `json:"file,omitempty"`
	Files        []FileRef           `json:"files,omitempty"`
	Reactions    map[string]Reaction `json:"reactions,omitempty"`
	EditedAt     *time.Time          `json:"editedAt,omitempty"`
	EditedBy     *UserRef            `json:"editedBy,omitempty"`
	Hidden       bool                `json:"_hidden,omitempty"` // edit-history copy; never exported
	DiscussionID string              `json:"drid,omitempty"`
}

// AllFiles is the message's uploads: Files, or the single legacy File.
func (m Message) AllFiles() []FileRef {
	if len(m.Files) > 0 {
		return m.Files
	}
	if m.File != nil {
		return []FileRef{*m.File}
	}
	return nil
}

// Attachment mirrors one entry of message.attachments: a file card or a quoted message.
type Attachment struct {
	Title       string       `json:"title,omitempty"`
	TitleLink   string       `json:"title_link,omitempty"`
	Text        string       `json:"text,omitempty"`
	Description string       `json:"description,omitempty"`
	AuthorName  string       `json:"author_name,omitempty"`
	MessageLink string       `json:"message_link,omitempty"`
	ImageURL    string       `json:"image_url,omitempty"`
	Type        string       `json:"type,omitempty"`
	TS          *time.Time   `json:"ts,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// FileRef is message.file / message.files[]: a pointer to an upload.
type FileRef struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// Reaction mirrors message.reactions[":emoji:"]: who reacted.
type Reaction struct {
	Usernames []string `json:"usernames"`
}

// Upload mirrors rocketchat_uploads: the metadata of a stored file. StorageKey
// names its bytes in the file store.
type Upload struct {
	ID         string `json:"_id"`
	RoomID     string `json:"rid,omitempty"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	Size       int64  `json:"size"`
	StorageKey string `json:"storageKey"`
}
