package boltstore

import (
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// TestDecodedRecordsAreNeverStale: a directory record read again after a
// write — through the store, or straight into the file — is the new one;
// and a caller that changes the slices of what it got changes nothing for
// the next caller.
func TestDecodedRecordsAreNeverStale(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if err := s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice", Roles: []string{"user"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPermissions(ctx, []chat.Permission{{ID: "export", Roles: []string{"admin"}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read is served from the decoded records
		u, err := s.UserByID(ctx, "u1")
		if err != nil || u.Username != "alice" || !slices.Equal(u.Roles, []string{"user"}) {
			t.Fatalf("UserByID = %+v, %v", u, err)
		}
		u.Roles[0] = "admin" // the caller's copy
	}
	if err := s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice", Roles: []string{"user", "bot"}}}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserByUsername(ctx, "alice"); err != nil || !slices.Equal(u.Roles, []string{"user", "bot"}) {
		t.Fatalf("after an update UserByUsername = %+v, %v", u, err)
	}
	roles, err := s.PermissionRoles(ctx, "export")
	if err != nil || !slices.Equal(roles, []string{"admin"}) {
		t.Fatalf("PermissionRoles = %v, %v", roles, err)
	}
	roles[0] = "user"
	// A write that bypasses the store's methods is seen too: nothing is
	// invalidated, the stored bytes are compared.
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPermissions).Put([]byte("export"), []byte(`{"_id":"export","roles":["owner"]}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if roles, err := s.PermissionRoles(ctx, "export"); err != nil || !slices.Equal(roles, []string{"owner"}) {
		t.Fatalf("after a raw write PermissionRoles = %v, %v", roles, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPermissions).Delete([]byte("export")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PermissionRoles(ctx, "export"); err == nil {
		t.Fatal("a deleted record was still served")
	}
}

// TestDecodedRecordsAreBounded: a bucket keeps at most maxDecoded records,
// whatever is read.
func TestDecodedRecordsAreBounded(t *testing.T) {
	var d decodedRecords
	for i := range maxDecoded + 10 {
		k := []byte(fmt.Sprint(i))
		d.keep(bucketRooms, k, k, chat.Room{ID: string(k)})
	}
	if n := len(d.buckets[string(bucketRooms)]); n != maxDecoded {
		t.Errorf("%d records kept, want %d", n, maxDecoded)
	}
	last := []byte(fmt.Sprint(maxDecoded + 9))
	if v, ok := d.lookup(bucketRooms, last, last); !ok || v.(chat.Room).ID != string(last) {
		t.Errorf("the last record kept: %v %v", v, ok)
	}
	if _, ok := d.lookup(bucketRooms, last, []byte("other bytes")); ok {
		t.Error("a record was served for other stored bytes")
	}
}
