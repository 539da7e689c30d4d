package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// The upload codec. Upload records were JSON up to this version; an export
// of a big room decodes thousands of them, and json.Unmarshal was most of
// what looking them up cost (issue 4). They are now written as a compact
// binary record whose first byte names the format, as messages are
// (codec.go):
//
//	'{'        JSON (written by older versions; still read, never written)
//	codecV1    _id rid name type size storageKey
//
// Strings are uvarint(length) and their bytes, with invalid UTF-8 mended as
// encoding/json mends it; size is a varint. The layout is fixed: a new field
// needs a new format byte, and readers that know it.

// encodeUpload returns up's stored form: a v1 record.
func encodeUpload(up *chat.Upload) []byte {
	b := make([]byte, 0, 8+len(up.ID)+len(up.RoomID)+len(up.Name)+len(up.Type)+len(up.StorageKey)+binary.MaxVarintLen64)
	b = append(b, codecV1)
	b = appendString(b, up.ID)
	b = appendString(b, up.RoomID)
	b = appendString(b, up.Name)
	b = appendString(b, up.Type)
	b = binary.AppendVarint(b, up.Size)
	return appendString(b, up.StorageKey)
}

// decodeUpload reads a stored upload value of either format into up. A v1
// record's strings are substrings of one copy of the value: one allocation,
// and nothing of the database's memory map outlives the transaction.
func decodeUpload(v []byte, up *chat.Upload) error {
	*up = chat.Upload{}
	if len(v) == 0 {
		return errCorruptUpload
	}
	switch v[0] {
	case codecV1:
		d := decoder{s: string(v), i: 1}
		up.ID = d.str()
		up.RoomID = d.str()
		up.Name = d.str()
		up.Type = d.str()
		up.Size = d.varint()
		up.StorageKey = d.str()
		if d.bad || d.i != len(d.s) {
			*up = chat.Upload{}
			return errCorruptUpload
		}
		return nil
	case '{':
		if err := json.Unmarshal(v, up); err != nil {
			*up = chat.Upload{}
			return fmt.Errorf("decode JSON upload: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown format byte %#x", errCorruptUpload, v[0])
}

// errCorruptUpload reports an upload value the codec cannot read.
var errCorruptUpload = errors.New("corrupt upload record")

// Upload returns an uploaded file's metadata (rocketchat_uploads).
func (s *Store) Upload(ctx context.Context, id string) (chat.Upload, error) {
	var up chat.Upload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUploads).Get([]byte(id))
		if v == nil {
			return chat.ErrNotFound
		}
		return decodeUpload(v, &up)
	})
	if err != nil {
		return chat.Upload{}, fmt.Errorf("boltstore: get upload %s: %w", id, err)
	}
	return up, nil
}

// Uploads returns the metadata of those of ids that are uploads, by id
// (Rocket.Chat's Uploads.find({_id: {$in: ids}})): the export's assets
// pass asks for a page of files at once. All are read in one transaction,
// in key order, so that neighbouring lookups walk pages the last one
// already brought in, and each counts as a lookup towards the release of
// the file's pages.
func (s *Store) Uploads(ctx context.Context, ids []string) (map[string]chat.Upload, error) {
	if len(ids) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return map[string]chat.Upload{}, nil
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted) // string order is the B-tree's byte order
	sorted = slices.Compact(sorted)
	var out map[string]chat.Upload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		out = make(map[string]chat.Upload, len(sorted))
		read := meter{p: s.pages}
		defer read.flush()
		c := tx.Bucket(bucketUploads).Cursor()
		for _, id := range sorted {
			if id == "" {
				continue // never a key
			}
			read.add(lookupBytes)
			k, v := c.Seek([]byte(id))
			if v == nil || string(k) != id {
				continue
			}
			var up chat.Upload
			if err := decodeUpload(v, &up); err != nil {
				return fmt.Errorf("upload %s: %w", id, err)
			}
			out[id] = up
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: get uploads: %w", err)
	}
	return out, nil
}

// PutUploads upserts upload metadata by id, in the v1 format.
func (s *Store) PutUploads(ctx context.Context, uploads []chat.Upload) error {
	if len(uploads) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUploads)
		for i := range uploads {
			k, err := idKey("upload id", uploads[i].ID)
			if err == nil {
				err = b.Put(k, encodeUpload(&uploads[i]))
			}
			if err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: put uploads: %w", err)
	}
	return nil
}
