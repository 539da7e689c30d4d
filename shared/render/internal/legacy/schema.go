package legacy

import "embed"

// MessageSchemaID is the $id of the JSON Schema of one exported JSON line,
// version 1. A consumer can check it against the schema it was built for.
const MessageSchemaID = "urn:rooms-export:schema:message:v1"

//go:embed schema/message-v1.schema.json
var schemaFS embed.FS

// MessageSchema returns the JSON Schema (draft 2020-12) that every line of
// the JSON document (NewJSON) satisfies: SPEC §5's keys, their types and
// formats, which are optional, and the attachment shape. The file is
// shared/render/schema/message-v1.schema.json; its $id is MessageSchemaID.
// A change to the JSON lines that breaks it makes a new version, and the
// render tests check that the schema and the encoder list the same keys.
// Each call returns a fresh copy, so no caller can change another's.
func MessageSchema() []byte {
	b, err := schemaFS.ReadFile("schema/message-v1.schema.json")
	if err != nil {
		panic("render: embedded schema missing: " + err.Error()) // unreachable: go:embed checks it at build time
	}
	return b
}
